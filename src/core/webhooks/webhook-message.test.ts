import { describe, expect, it } from 'vitest';
import { signatureHeader, signedContent, webhookBody } from './webhook-message.js';

describe('webhook message', () => {
  it('writes the body with id, type, createdAt and data, in that order', () => {
    const body = webhookBody({
      id: 'e1',
      type: 'bid.expired',
      createdAt: new Date('2026-11-22T10:00:00Z'),
      data: { bidId: 'b1' },
    });
    expect(body).toBe('{"id":"e1","type":"bid.expired","createdAt":"2026-11-22T10:00:00.000Z","data":{"bidId":"b1"}}');
  });

  it('signs "<t>.<raw body>"', () => {
    expect(signedContent(1764000000, '{"a":1}')).toBe('1764000000.{"a":1}');
  });

  it('writes one v1 per signing secret after the timestamp', () => {
    expect(signatureHeader(1764000000, ['aa'])).toBe('t=1764000000,v1=aa');
    expect(signatureHeader(1764000000, ['aa', 'bb'])).toBe('t=1764000000,v1=aa,v1=bb');
  });
});
