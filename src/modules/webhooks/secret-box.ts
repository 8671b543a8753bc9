import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;

export class SecretBoxError extends Error {}

/** A short, public name for a key (not a secret: a hash prefix), so an envelope says which key sealed it. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * Secrets at rest: AES-256-GCM under the configured key, as `v1.<key id>.<iv>.<tag>.<ciphertext>`
 * (base64url parts). The context (the endpoint's id) is authenticated data, so a sealed secret
 * copied onto another row does not open there. A previous key only opens: envelopes under it
 * are re-sealed under the current key at start-up.
 */
export class SecretBox {
  readonly currentKeyId: string;
  readonly hasPreviousKey: boolean;
  private readonly keys = new Map<string, Buffer>();

  constructor(current: Buffer, previous: Buffer | null = null) {
    if (current.length !== 32 || (previous && previous.length !== 32))
      throw new SecretBoxError('AES-256-GCM keys are 32 bytes');
    this.currentKeyId = keyIdOf(current);
    this.hasPreviousKey = previous !== null && !previous.equals(current);
    if (previous) this.keys.set(keyIdOf(previous), previous);
    this.keys.set(this.currentKeyId, current);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      this.currentKeyId,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ciphertext.toString('base64url'),
    ].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, keyId, iv, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || ciphertext === undefined) throw new SecretBoxError('not a sealed secret');
    const key = this.keys.get(keyId);
    if (!key)
      throw new SecretBoxError(
        `sealed under key ${keyId}, which is neither WEBHOOK_SECRET_KEY nor WEBHOOK_SECRET_KEY_PREVIOUS`,
      );
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('the sealed secret does not authenticate (tampered, or sealed for another row)');
    }
  }

  isCurrent(sealed: string): boolean {
    return sealed.split('.')[1] === this.currentKeyId;
  }
}
