import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { webhookBody } from '../../src/core/webhooks/webhook-message.js';
import { signWebhook } from '../../src/modules/webhooks/webhook-signature.js';
import { documentedRecipe } from './support/webhook-fixtures.js';

describe('the example request in docs/webhooks.md', () => {
  const docs = readFileSync(join(import.meta.dirname, '../../docs/webhooks.md'), 'utf8');
  const example = /<!-- example-request -->\s*```\n([\s\S]*?)```/.exec(docs)![1];
  const [head, body] = example.trimEnd().split('\n\n');
  const header = /X-Gpumarket-Signature: (.*)/.exec(head)![1];
  const secret = /`(whsec_[A-Za-z0-9_-]+)`/.exec(docs)![1];

  it('is what the service sends for that event and secret', () => {
    const event = JSON.parse(body);
    expect(webhookBody({ ...event, createdAt: new Date(event.createdAt) })).toBe(body);
    expect(signWebhook([secret], 1764000000, body)).toBe(header);
  });

  it('verifies with the documented recipe at its own time, and not ten minutes later', async () => {
    const verify = await documentedRecipe();
    expect(verify(body, header, [secret], 300, 1764000000_000)).toBe(true);
    expect(verify(body, header, [secret], 300, 1764000600_000)).toBe(false);
  });
});
