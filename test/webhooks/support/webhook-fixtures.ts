import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  MarketEventsRepository,
  type MarketEvent,
  type MarketEventType,
} from '../../../src/modules/leases/market-events.repository.js';
import { OutboxRelayService } from '../../../src/platform/outbox/outbox-relay.service.js';
import { TransactionRunner } from '../../../src/platform/database/transaction-runner.js';
import { auth } from '../../support/fixtures.js';
import type { TestApp } from '../../support/test-app.js';

export type VerifySignature = (
  rawBody: string,
  header: string | undefined,
  secrets: string[],
  toleranceSeconds?: number,
  now?: number,
) => boolean;

/** The verification function exactly as docs/webhooks.md gives it to receivers. */
export async function documentedRecipe(): Promise<VerifySignature> {
  const docs = readFileSync(join(import.meta.dirname, '../../../docs/webhooks.md'), 'utf8');
  const code = /<!-- verify-recipe -->\s*```js\n([\s\S]*?)```/.exec(docs)?.[1];
  if (!code) throw new Error('docs/webhooks.md has no verify-recipe block');
  const module = await import(/* @vite-ignore */ `data:text/javascript,${encodeURIComponent(code)}`);
  return module.verifyGpumarketSignature;
}

export async function registerWebhook(
  t: TestApp,
  tenantKey: string,
  url: string,
  events: MarketEventType[],
): Promise<{ id: string; secret: string }> {
  const response = await t.http().post('/v1/webhooks').set(auth(tenantKey)).send({ url, events });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

/** Writes events through the market's own repository in one transaction, then relays as a commit does. */
export async function emit(
  t: TestApp,
  events: Array<Omit<MarketEvent, 'subjectId'> & { subjectId?: string }>,
): Promise<string[]> {
  const ids = await t.app.get(TransactionRunner).run((manager) =>
    t.app.get(MarketEventsRepository).add(
      manager,
      events.map((e) => ({ subjectId: randomUUID(), ...e })),
    ),
  );
  await t.app.get(OutboxRelayService).relay();
  return ids;
}

export async function deliveriesOf(
  t: TestApp,
  tenantKey: string,
  webhookId: string,
): Promise<Array<Record<string, unknown>>> {
  const response = await t.http().get(`/v1/webhooks/${webhookId}/deliveries`).set(auth(tenantKey));
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.deliveries;
}
