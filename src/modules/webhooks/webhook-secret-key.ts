import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../../platform/config/config.js';
import { SecretBox } from './secret-box.js';

export const WEBHOOK_SECRET_BOX = Symbol('WEBHOOK_SECRET_BOX');
export const GENERATED_KEY_FILE = 'webhook-secret.key';

function readKeyFile(path: string): Buffer {
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  if (key.length !== 32)
    throw new Error(`${path} must hold 64 hex digits (a 32-byte key); restore it or set WEBHOOK_SECRET_KEY`);
  return key;
}

/**
 * The key that seals endpoint secrets. WEBHOOK_SECRET_KEY when set. Without it, the embedded
 * database (the zero-configuration start) gets a key generated once into DATA_DIR, outside the
 * database's own files, as the admin key is generated at first start; an operator's own
 * PostgreSQL gets none (null), and the webhook API says which variable to set. A generated key
 * that WEBHOOK_SECRET_KEY later replaces still opens the secrets it sealed, which are then
 * re-sealed under the new key at start-up.
 */
export function webhookSecretBox(
  config: AppConfig,
  logger: { log(message: string): void; warn(message: string): void },
): SecretBox | null {
  const { secretKey, previousSecretKey } = config.webhooks;
  const file = join(config.dataDir, GENERATED_KEY_FILE);
  const embedded = config.databaseUrl === null;
  if (secretKey) {
    const generated = embedded && !previousSecretKey && existsSync(file) ? readKeyFile(file) : null;
    return new SecretBox(
      secretKey,
      previousSecretKey ?? (generated && !generated.equals(secretKey) ? generated : null),
    );
  }
  if (!embedded) {
    logger.warn('WEBHOOK_SECRET_KEY is not set: webhooks are unavailable until it is (see docs/operations.md)');
    return null;
  }
  if (existsSync(file)) return new SecretBox(readKeyFile(file));
  mkdirSync(config.dataDir, { recursive: true });
  const key = randomBytes(32);
  // 'wx': never overwrite a key that secrets may already be sealed under.
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  logger.log(`generated the webhook secret key in ${file} (back it up with the data; WEBHOOK_SECRET_KEY overrides it)`);
  return new SecretBox(key);
}
