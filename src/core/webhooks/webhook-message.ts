/**
 * What a receiver gets: the body and the signature header. The HMAC itself is computed by the
 * caller (node:crypto stays out of the core); this file fixes the bytes that are signed and how
 * the header is written, so the sender and the documented verification agree.
 */

export interface WebhookEvent {
  /** The event's id: the same in every delivery and redelivery of the event. */
  readonly id: string;
  readonly type: string;
  readonly createdAt: Date;
  readonly data: unknown;
}

/** The raw body, exactly as signed and sent. */
export function webhookBody(event: WebhookEvent): string {
  return JSON.stringify({ id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data: event.data });
}

/** What the HMAC covers: the timestamp binds the signature to one moment, against replays. */
export function signedContent(timestampSeconds: number, body: string): string {
  return `${timestampSeconds}.${body}`;
}

/**
 * `t=<unix seconds>,v1=<hex>[,v1=<hex>]`: one v1 per secret that signs now (the current one and,
 * during a rotation's grace period, the previous one). A receiver accepts any v1 that matches.
 */
export function signatureHeader(timestampSeconds: number, hexSignatures: readonly string[]): string {
  return [`t=${timestampSeconds}`, ...hexSignatures.map((s) => `v1=${s}`)].join(',');
}
