import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { afterFailure, shouldDisable } from '../../core/webhooks/delivery-policy.js';
import { webhookBody } from '../../core/webhooks/webhook-message.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { OutboxRelayService } from '../../platform/outbox/outbox-relay.service.js';
import { OutboxRepository } from '../../platform/outbox/outbox.repository.js';
import { SendSlots } from './send-slots.js';
import {
  type AttemptRecord,
  type ClaimedDelivery,
  WebhookDeliveriesRepository,
} from './webhook-deliveries.repository.js';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { deliveryJobId } from './webhook-fanout.repository.js';
import { WebhookSecretsService } from './webhook-secrets.service.js';
import { postWebhook } from './webhook-sender.js';
import { signWebhook } from './webhook-signature.js';
import { type ResolvedAddress, resolveTarget } from './webhook-targets.js';

const MAX_ERROR_LENGTH = 500;
/** A batch has at least this many deliveries, and this many per lane (attempt in flight). */
const BATCH_MIN = 8;
const BATCH_PER_LANE = 8;
/** An attempt starts only if it can end this long before its batch's hold does. */
const HOLD_MARGIN_MS = 10_000;

/** An endpoint's target, resolved and checked once per batch. */
type Target = { readonly url: URL; readonly addresses: ResolvedAddress[] } | { readonly error: string };
/** The secrets that sign an attempt made at `now`. */
type Signer = ((now: Date) => string[]) | { readonly error: string };
type Success = { readonly id: string; readonly attempt: AttemptRecord };
/** What a batch leaves to record: its successes, and the deliveries it did not attempt. */
type BatchResult = { readonly succeeded: Success[]; readonly unsent: string[] };

/**
 * The `webhook.deliver` job: the due deliveries of one endpoint, in batches. A job carries one
 * delivery but stands for every due delivery of that delivery's endpoint (the fan-out enqueues
 * one job per endpoint and commit). One batch per endpoint is in flight at a time, across
 * replicas, and it sends at most WEBHOOK_ENDPOINT_CONCURRENCY attempts at once, so a slow or
 * hanging endpoint holds one worker and other tenants' deliveries (preemption notices above
 * all) do not wait behind it. The job queue's own retries are not used (the policy is one try):
 * a failed attempt schedules the next one itself, through the outbox in the transaction that
 * records the failure, with the jittered backoff of the core and a window of
 * WEBHOOK_RETRY_WINDOW_SECONDS. That works the same on BullMQ and on the in-process queue, and
 * a crash between recording and enqueueing loses nothing.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger('Webhooks');
  /** WEBHOOK_CONCURRENCY attempts in flight per process, whatever lanes the batches open. */
  private readonly slots: SendSlots;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly secrets: WebhookSecretsService,
    private readonly outbox: OutboxRepository,
    private readonly relay: OutboxRelayService,
  ) {
    this.slots = new SendSlots(config.webhooks.concurrency);
  }

  private get settings() {
    return this.config.webhooks;
  }

  /** At most this many deliveries per batch: WEBHOOK_ENDPOINT_CONCURRENCY lanes of a few each. */
  private get batchSize(): number {
    return Math.max(BATCH_MIN, this.settings.endpointConcurrency * BATCH_PER_LANE);
  }

  /**
   * Takes a batch of the endpoint's due deliveries, sends it, and takes the next while there
   * are any. A job whose endpoint already has a batch in flight does nothing: that batch's
   * holder takes the job's deliveries next, since both decide under the endpoint's lock.
   */
  async deliver(deliveryId: string): Promise<void> {
    const { timeoutMs, endpointConcurrency } = this.settings;
    const limit = this.batchSize;
    // Held for longer than the batch's waves of attempts and the name's lookup should take; a
    // worker that dies mid-batch frees it by expiry.
    const lockSeconds = Math.ceil(((Math.ceil(limit / endpointConcurrency) + 1) * timeoutMs) / 1000) + 30;
    let endpointId: string | null = null;
    let last: BatchResult = { succeeded: [], unsent: [] };
    for (;;) {
      const claimedAt = Date.now();
      // The last batch's results are written in the transaction that takes the next batch: they
      // free the endpoint, so they must come before the claim, and it saves a round trip.
      const batch: ClaimedDelivery[] = await this.transactions.run(async (manager) => {
        await this.deliveries.recordSuccesses(manager, last.succeeded);
        await this.deliveries.release(manager, last.unsent);
        if (endpointId !== null) {
          await this.deliveries.lockEndpoint(manager, endpointId);
          return this.deliveries.claimDue(manager, endpointId, { own: null, limit, lockSeconds });
        }
        endpointId = await this.deliveries.lockEndpointOf(manager, deliveryId);
        return endpointId === null
          ? []
          : this.deliveries.claimDue(manager, endpointId, { own: deliveryId, limit, lockSeconds });
      });
      if (batch.length === 0) return;
      last = await this.sendBatch(batch, claimedAt + lockSeconds * 1000);
    }
  }

  /**
   * Sends a batch over at most WEBHOOK_ENDPOINT_CONCURRENCY lanes, in the order its deliveries
   * fell due, each attempt in one of the process's slots. Successes are recorded together, in
   * one statement, before any failure (so the endpoint's failure streak follows the order of
   * the attempts) or by the caller after the batch; each failure is recorded at once, in its
   * own transaction, and if it disables the endpoint the rest of the batch is not sent (the
   * disabling gave it up). An attempt that could outlast the batch's hold (slots taken by slow
   * endpoints) is not started: the caller releases it and takes it again with a fresh hold, so
   * that no other worker sends it meanwhile.
   */
  private async sendBatch(batch: readonly ClaimedDelivery[], heldUntil: number): Promise<BatchResult> {
    const manager = this.dataSource.manager;
    const [first] = batch;
    if (first.endpointDeletedAt || first.endpointDisabledAt) {
      await this.deliveries.abandonPending(
        manager,
        first.endpointId,
        first.endpointDeletedAt ? 'endpoint deleted' : 'endpoint disabled',
      );
      return { succeeded: [], unsent: [] };
    }
    const target = await this.resolve(first.url);
    const signer = this.signer(first);
    const succeeded: Success[] = [];
    let next = 0;
    let stopped = false;
    let failure: unknown = null;
    const lane = async () => {
      while (!stopped && next < batch.length) {
        const attempted = await this.slots.run(async () => {
          if (stopped || next >= batch.length || Date.now() + this.settings.timeoutMs + HOLD_MARGIN_MS > heldUntil)
            return null;
          const delivery = batch[next++];
          const startedAt = new Date();
          const outcome = await this.attempt(delivery, target, signer, startedAt);
          return {
            delivery,
            record: {
              startedAt,
              ...outcome,
              error: outcome.error?.slice(0, MAX_ERROR_LENGTH) ?? null,
            } as AttemptRecord,
          };
        });
        if (attempted === null) return;
        const { delivery, record } = attempted;
        if (record.error === null) {
          succeeded.push({ id: delivery.id, attempt: record });
          continue;
        }
        await this.deliveries.recordSuccesses(manager, succeeded.splice(0));
        if (await this.transactions.run((m) => this.recordFailure(m, delivery, record))) stopped = true;
        await this.relay.relay();
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.settings.endpointConcurrency, batch.length) }, () =>
        lane().catch((error: unknown) => {
          // The rest of the batch stays held until its hold expires, then is taken again.
          stopped = true;
          failure ??= error;
        }),
      ),
    );
    if (failure) {
      await this.deliveries.recordSuccesses(manager, succeeded.splice(0));
      throw failure;
    }
    // After a disabling the rest was given up already; releasing touches only pending rows.
    return { succeeded, unsent: batch.slice(next).map((d) => d.id) };
  }

  /**
   * The batch's secrets, opened once (every delivery of a batch is to one endpoint); the
   * previous secret still signs only the attempts made before its grace period ends.
   */
  private signer(endpoint: ClaimedDelivery): Signer {
    try {
      const secrets = this.secrets.signingSecrets({ ...endpoint, id: endpoint.endpointId }, new Date());
      const expiresAt = endpoint.previousSecretExpiresAt;
      return (now) => (secrets.length > 1 && expiresAt && expiresAt <= now ? secrets.slice(0, 1) : secrets);
    } catch (error) {
      return { error: `cannot sign: ${(error as Error).message}` };
    }
  }

  private async resolve(endpointUrl: string): Promise<Target> {
    const url = new URL(endpointUrl);
    try {
      // Checked again for every batch, not only at registration: DNS may point elsewhere by
      // now, and the connections go to exactly the addresses checked.
      return {
        url,
        addresses: await resolveTarget(url, {
          allowPrivate: this.settings.allowPrivateTargets,
          timeoutMs: this.settings.timeoutMs,
        }),
      };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  private async attempt(
    delivery: ClaimedDelivery,
    target: Target,
    signer: Signer,
    now: Date,
  ): Promise<Omit<AttemptRecord, 'startedAt'>> {
    const failed = (error: string) => ({ statusCode: null, latencyMs: 0, error });
    if ('error' in signer) return failed(signer.error);
    if ('error' in target) return failed(target.error);
    const secrets = signer(now);
    const body = webhookBody({
      id: delivery.eventId,
      type: delivery.eventType,
      createdAt: delivery.eventCreatedAt,
      data: delivery.eventData,
    });
    const timestamp = Math.floor(now.getTime() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'gpumarket-webhooks/1',
      'x-gpumarket-delivery': delivery.id,
      'x-gpumarket-event': delivery.eventType,
      'x-gpumarket-attempt': String(delivery.attempts + 1),
      'x-gpumarket-signature': signWebhook(secrets, timestamp, body),
    };
    return postWebhook(target.url, target.addresses, headers, body, this.settings.timeoutMs);
  }

  /**
   * The attempt failed: count it on the endpoint, maybe disable the endpoint, retry or give up.
   * True when the endpoint was disabled.
   */
  private async recordFailure(
    manager: EntityManager,
    delivery: ClaimedDelivery,
    attempt: AttemptRecord,
  ): Promise<boolean> {
    const now = Date.now();
    const streak = await this.endpoints.noteFailure(manager, delivery.endpointId, attempt.startedAt);
    const disable = shouldDisable(streak, now, {
      afterFailures: this.settings.disableAfterFailures,
      afterMs: this.settings.disableAfterSeconds * 1000,
    });
    const next = disable
      ? ({ kind: 'give_up' } as const)
      : afterFailure(
          { now, createdAt: delivery.createdAt.getTime(), failedAttempts: delivery.attempts + 1 },
          {
            baseMs: this.settings.retryBaseMs,
            maxMs: this.settings.retryMaxMs,
            windowMs: this.settings.retryWindowSeconds * 1000,
          },
          Math.random,
        );
    const nextAt = next.kind === 'retry' ? new Date(next.at) : null;
    let finalError: string | undefined;
    if (disable) {
      const reason = `${streak.failures} failed attempts in a row since ${new Date(streak.since).toISOString()}; the last: ${attempt.error}`;
      await this.endpoints.disable(manager, delivery.endpointId, reason);
      await this.deliveries.abandonPending(
        manager,
        delivery.endpointId,
        `endpoint disabled: ${reason}`.slice(0, MAX_ERROR_LENGTH),
      );
      finalError = `${attempt.error}; endpoint disabled after ${streak.failures} failed attempts in a row`.slice(
        0,
        MAX_ERROR_LENGTH,
      );
      this.logger.warn(`webhook ${delivery.endpointId} disabled: ${reason}`);
    } else if (nextAt === null) {
      finalError =
        `${attempt.error}; gave up after ${delivery.attempts + 1} attempts over ${this.settings.retryWindowSeconds} s`.slice(
          0,
          MAX_ERROR_LENGTH,
        );
    }
    const attemptNumber = await this.deliveries.recordFailure(manager, delivery.id, attempt, nextAt, finalError);
    if (nextAt) {
      await this.outbox.add(manager, [
        {
          jobName: 'webhook.deliver',
          payload: { deliveryId: delivery.id },
          jobId: deliveryJobId(delivery.id, attemptNumber + 1),
          deliverAt: nextAt,
        },
      ]);
    }
    return disable;
  }
}
