import { createHmac, randomBytes } from 'node:crypto';
import { signatureHeader, signedContent } from '../../core/webhooks/webhook-message.js';

/** A new endpoint secret: 256 random bits. Receivers use the whole string, prefix included, as the HMAC key. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The `X-Gpumarket-Signature` value: HMAC-SHA256 of `<t>.<body>` under each secret that signs now. */
export function signWebhook(secrets: readonly string[], timestampSeconds: number, body: string): string {
  const content = signedContent(timestampSeconds, body);
  return signatureHeader(
    timestampSeconds,
    secrets.map((secret) => createHmac('sha256', secret).update(content).digest('hex')),
  );
}
