import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from './secret-box.js';

describe('SecretBox', () => {
  const key = randomBytes(32);

  it('seals and opens, and the envelope does not contain the secret', () => {
    const box = new SecretBox(key);
    const sealed = box.seal('whsec_plain', 'endpoint-1');
    expect(sealed).not.toContain('whsec_plain');
    expect(sealed.startsWith(`v1.${box.currentKeyId}.`)).toBe(true);
    expect(box.open(sealed, 'endpoint-1')).toBe('whsec_plain');
  });

  it('seals the same secret differently each time (random IV)', () => {
    const box = new SecretBox(key);
    expect(box.seal('s', 'c')).not.toBe(box.seal('s', 'c'));
  });

  it('refuses an envelope moved to another row, a tampered one, and one under an unknown key', () => {
    const box = new SecretBox(key);
    const sealed = box.seal('whsec_plain', 'endpoint-1');
    expect(() => box.open(sealed, 'endpoint-2')).toThrow(SecretBoxError);
    const parts = sealed.split('.');
    parts[4] = Buffer.from('whsec_other').toString('base64url');
    expect(() => box.open(parts.join('.'), 'endpoint-1')).toThrow(SecretBoxError);
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'endpoint-1')).toThrow(/WEBHOOK_SECRET_KEY/);
  });

  it('opens envelopes of the previous key and says they need re-sealing', () => {
    const old = new SecretBox(key);
    const sealed = old.seal('whsec_plain', 'e');
    const rotated = new SecretBox(randomBytes(32), key);
    expect(rotated.open(sealed, 'e')).toBe('whsec_plain');
    expect(rotated.isCurrent(sealed)).toBe(false);
    expect(rotated.isCurrent(rotated.seal('whsec_plain', 'e'))).toBe(true);
  });
});
