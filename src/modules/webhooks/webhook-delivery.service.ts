import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { afterFailure, shouldDisable } from '../../core/webhooks/delivery-policy.js';
import { webhookBody } from '../../core/webhooks/webhook-message.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { OutboxRelayService } from '../market/outbox-relay.service.js';
import { OutboxRepository } from '../market/outbox.repository.js';
import { type AttemptRecord, type ClaimedDelivery, WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { deliveryJobId } from './webhook-fanout.repository.js';
import { WebhookSecretsService } from './webhook-secrets.service.js';
import { postWebhook } from './webhook-sender.js';
import { signWebhook } from './webhook-signature.js';
import { resolveTarget } from './webhook-targets.js';

const MAX_ERROR_LENGTH = 500;

/**
 * The `webhook.deliver` job: one attempt of one delivery. The job queue's own retries are not
 * used (the policy is one try): a failed attempt schedules the next one itself, through the
 * outbox in the transaction that records the failure, with the jittered backoff of the core and
 * a window of WEBHOOK_RETRY_WINDOW_SECONDS. That works the same on BullMQ and on the in-process
 * queue, and a crash between recording and enqueueing loses nothing.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger('Webhooks');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly secrets: WebhookSecretsService,
    private readonly outbox: OutboxRepository,
    private readonly relay: OutboxRelayService,
  ) {}

  private get settings() {
    return this.config.webhooks;
  }

  /**
   * Attempts the delivery, then the endpoint's other due deliveries one after another while
   * there are any. A job whose endpoint already has WEBHOOK_ENDPOINT_CONCURRENCY attempts in
   * flight does nothing: one of those takes its delivery next. So a slow or hanging endpoint
   * holds at most that many workers, and other tenants' deliveries (preemption notices above
   * all) do not wait behind it.
   */
  async deliver(deliveryId: string): Promise<void> {
    // Held for longer than an attempt can take; a worker that dies mid-attempt frees it by expiry.
    const lockSeconds = Math.ceil(this.settings.timeoutMs / 1000) * 2 + 30;
    const { endpointConcurrency } = this.settings;
    // Most jobs of a burst find their delivery already taken by an attempt chained from another:
    // one read tells, without a transaction or a wait on the endpoint's lock.
    if (!(await this.deliveries.isClaimable(this.dataSource.manager, deliveryId))) return;
    let delivery = await this.transactions.run(async (manager) =>
      (await this.deliveries.lockEndpointOf(manager, deliveryId)) ? this.deliveries.claim(manager, deliveryId, lockSeconds, endpointConcurrency) : null,
    );
    while (delivery) {
      await this.attemptAndRecord(delivery);
      const { endpointId } = delivery;
      delivery = await this.transactions.run(async (manager) => {
        await this.deliveries.lockEndpoint(manager, endpointId);
        return this.deliveries.claimNextDue(manager, endpointId, lockSeconds, endpointConcurrency);
      });
    }
  }

  private async attemptAndRecord(delivery: ClaimedDelivery): Promise<void> {
    const manager = this.dataSource.manager;
    if (delivery.endpointDeletedAt || delivery.endpointDisabledAt) {
      await this.deliveries.abandon(manager, delivery.id, delivery.endpointDeletedAt ? 'endpoint deleted' : 'endpoint disabled');
      return;
    }
    const startedAt = new Date();
    const outcome = await this.attempt(delivery, startedAt);
    const record: AttemptRecord = { startedAt, ...outcome, error: outcome.error?.slice(0, MAX_ERROR_LENGTH) ?? null };
    if (record.error === null) {
      await this.deliveries.recordSuccess(manager, delivery.id, record);
      return;
    }
    await this.transactions.run((m) => this.recordFailure(m, delivery, record));
    await this.relay.relay();
  }

  private async attempt(delivery: ClaimedDelivery, now: Date): Promise<Omit<AttemptRecord, 'startedAt'>> {
    const failed = (error: string) => ({ statusCode: null, latencyMs: 0, error });
    let secrets: string[];
    try {
      secrets = this.secrets.signingSecrets({ ...delivery, id: delivery.endpointId }, now);
    } catch (error) {
      return failed(`cannot sign: ${(error as Error).message}`);
    }
    const url = new URL(delivery.url);
    let addresses;
    try {
      // Checked again here, not only at registration: DNS may point elsewhere by now, and the
      // connection goes to exactly the addresses checked.
      addresses = await resolveTarget(url, { allowPrivate: this.settings.allowPrivateTargets, timeoutMs: this.settings.timeoutMs });
    } catch (error) {
      return failed((error as Error).message);
    }
    const body = webhookBody({ id: delivery.eventId, type: delivery.eventType, createdAt: delivery.eventCreatedAt, data: delivery.eventData });
    const timestamp = Math.floor(now.getTime() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'gpumarket-webhooks/1',
      'x-gpumarket-delivery': delivery.id,
      'x-gpumarket-event': delivery.eventType,
      'x-gpumarket-attempt': String(delivery.attempts + 1),
      'x-gpumarket-signature': signWebhook(secrets, timestamp, body),
    };
    return postWebhook(url, addresses, headers, body, this.settings.timeoutMs);
  }

  /** The attempt failed: count it on the endpoint, maybe disable the endpoint, retry or give up. */
  private async recordFailure(manager: EntityManager, delivery: ClaimedDelivery, attempt: AttemptRecord): Promise<void> {
    const now = Date.now();
    const streak = await this.endpoints.noteFailure(manager, delivery.endpointId, attempt.startedAt);
    const disable = shouldDisable(streak, now, { afterFailures: this.settings.disableAfterFailures, afterMs: this.settings.disableAfterSeconds * 1000 });
    const next = disable
      ? ({ kind: 'give_up' } as const)
      : afterFailure(
          { now, createdAt: delivery.createdAt.getTime(), failedAttempts: delivery.attempts + 1 },
          { baseMs: this.settings.retryBaseMs, maxMs: this.settings.retryMaxMs, windowMs: this.settings.retryWindowSeconds * 1000 },
          Math.random,
        );
    const nextAt = next.kind === 'retry' ? new Date(next.at) : null;
    let finalError: string | undefined;
    if (disable) {
      const reason = `${streak.failures} failed attempts in a row since ${new Date(streak.since).toISOString()}; the last: ${attempt.error}`;
      await this.endpoints.disable(manager, delivery.endpointId, reason);
      await this.deliveries.abandonPending(manager, delivery.endpointId, `endpoint disabled: ${reason}`.slice(0, MAX_ERROR_LENGTH));
      finalError = `${attempt.error}; endpoint disabled after ${streak.failures} failed attempts in a row`.slice(0, MAX_ERROR_LENGTH);
      this.logger.warn(`webhook ${delivery.endpointId} disabled: ${reason}`);
    } else if (nextAt === null) {
      finalError = `${attempt.error}; gave up after ${delivery.attempts + 1} attempts over ${this.settings.retryWindowSeconds} s`.slice(0, MAX_ERROR_LENGTH);
    }
    const attemptNumber = await this.deliveries.recordFailure(manager, delivery.id, attempt, nextAt, finalError);
    if (nextAt) {
      await this.outbox.add(manager, [
        { jobName: 'webhook.deliver', payload: { deliveryId: delivery.id }, jobId: deliveryJobId(delivery.id, attemptNumber + 1), deliverAt: nextAt },
      ]);
    }
  }
}
