import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../platform/config/config.js';
import { keyIdOf } from './secret-box.js';
import { GENERATED_KEY_FILE, webhookSecretBox } from './webhook-secret-key.js';

describe('the webhook secret key', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'gm-webhook-key-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const logs: string[] = [];
  const log = { log: (m: string) => void logs.push(m), warn: (m: string) => void logs.push(m) };

  it('on the embedded database: generated once into DATA_DIR, readable by the owner only, and reused', () => {
    const dir = dataDir();
    const first = webhookSecretBox(loadConfig({ DATA_DIR: dir }), log)!;
    const file = join(dir, GENERATED_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.currentKeyId).toBe(keyIdOf(Buffer.from(readFileSync(file, 'utf8').trim(), 'hex')));
    const sealed = first.seal('whsec_x', 'e');
    const second = webhookSecretBox(loadConfig({ DATA_DIR: dir }), log)!;
    expect(second.open(sealed, 'e')).toBe('whsec_x');
  });

  it('WEBHOOK_SECRET_KEY wins; a key generated earlier still opens what it sealed, to be re-sealed', () => {
    const dir = dataDir();
    const generated = webhookSecretBox(loadConfig({ DATA_DIR: dir }), log)!;
    const sealed = generated.seal('whsec_x', 'e');
    const key = randomBytes(32);
    const configured = webhookSecretBox(loadConfig({ DATA_DIR: dir, WEBHOOK_SECRET_KEY: key.toString('hex') }), log)!;
    expect(configured.currentKeyId).toBe(keyIdOf(key));
    expect(configured.hasPreviousKey).toBe(true);
    expect(configured.open(sealed, 'e')).toBe('whsec_x');
  });

  it('on an operator database: none without WEBHOOK_SECRET_KEY, and no file is written', () => {
    const dir = dataDir();
    logs.length = 0;
    expect(webhookSecretBox(loadConfig({ DATA_DIR: dir, DATABASE_URL: 'postgresql://db/market' }), log)).toBeNull();
    expect(logs.join()).toContain('WEBHOOK_SECRET_KEY');
    expect(() => statSync(join(dir, GENERATED_KEY_FILE))).toThrow();
  });

  it('refuses a damaged key file instead of sealing under a new key', () => {
    const dir = dataDir();
    writeFileSync(join(dir, GENERATED_KEY_FILE), 'not hex\n');
    expect(() => webhookSecretBox(loadConfig({ DATA_DIR: dir }), log)).toThrow(/WEBHOOK_SECRET_KEY/);
  });
});
