import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { ValidationFailedError } from '../../platform/errors/app-error.js';
import { decodeKeysetCursor, encodeKeysetCursor } from '../../platform/http/keyset-cursor.js';
import { OutboxRelayService } from '../../platform/outbox/outbox-relay.service.js';
import { OutboxRepository } from '../../platform/outbox/outbox.repository.js';
import type {
  CreateWebhookDto,
  ListDeliveriesQueryDto,
  RotateSecretQueryDto,
  UpdateWebhookDto,
  WebhookCreatedDto,
  WebhookDeliveryDetailDto,
  WebhookDeliveryDto,
  WebhookDeliveryPageDto,
  WebhookDto,
  WebhookListDto,
  WebhookSecretDto,
} from './webhook.dto.js';
import { WebhookError, WebhookErrorCode } from './webhook.error.js';
import { WebhookDeliveriesRepository, type DeliveryRow } from './webhook-deliveries.repository.js';
import { type EndpointRow, WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { deliveryJobId } from './webhook-fanout.repository.js';
import { WebhookSecretsService } from './webhook-secrets.service.js';
import { resolveTarget, TargetRefusedError } from './webhook-targets.js';

/** A tenant's endpoints; each event fans out to all of them, so their number is bounded. */
export const MAX_WEBHOOKS_PER_TENANT = 16;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function toWebhookDto(row: EndpointRow, now = new Date()): WebhookDto {
  const previousLive = row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt > now;
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    enabled: row.disabledAt === null,
    disabledAt: iso(row.disabledAt),
    disabledReason: row.disabledReason,
    secretRotatedAt: iso(row.secretRotatedAt),
    previousSecretExpiresAt: previousLive ? iso(row.previousSecretExpiresAt) : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function toDeliveryDto(row: DeliveryRow): WebhookDeliveryDto {
  return {
    id: row.id,
    webhookId: row.webhookId,
    eventId: row.eventId,
    eventType: row.eventType,
    redeliveryOf: row.redeliveryOf,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.lastStatusCode,
    lastLatencyMs: row.lastLatencyMs,
    lastError: row.lastError,
    lastAttemptAt: iso(row.lastAttemptAt),
    nextAttemptAt: row.status === 'pending' ? iso(row.nextAttemptAt) : null,
    createdAt: row.createdAt.toISOString(),
    deliveredAt: iso(row.deliveredAt),
  };
}

/** The tenant's webhook API: endpoints, their secrets, their delivery log and redelivery. */
@Injectable()
export class WebhooksService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactions: TransactionRunner,
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly secrets: WebhookSecretsService,
    private readonly outbox: OutboxRepository,
    private readonly relay: OutboxRelayService,
  ) {}

  async register(tenantId: string, body: CreateWebhookDto): Promise<WebhookCreatedDto> {
    this.secrets.assertConfigured();
    await this.checkTarget(body.url);
    const id = randomUUID();
    const { secret, sealed } = this.secrets.issue(id);
    const row = await this.transactions.run(async (manager) => {
      if ((await this.endpoints.countLiveForUpdate(manager, tenantId)) >= MAX_WEBHOOKS_PER_TENANT) {
        throw new WebhookError(
          WebhookErrorCode.LimitReached,
          `a tenant has at most ${MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first`,
        );
      }
      return this.endpoints.insert(manager, { id, tenantId, url: body.url, events: body.events, secretSealed: sealed });
    });
    return { ...toWebhookDto(row), secret };
  }

  async list(tenantId: string): Promise<WebhookListDto> {
    const rows = await this.transactions.run((m) => this.endpoints.list(m, tenantId));
    return { webhooks: rows.map((r) => toWebhookDto(r)) };
  }

  async get(tenantId: string, id: string): Promise<WebhookDto> {
    return toWebhookDto(await this.transactions.run((m) => this.endpoint(m, tenantId, id)));
  }

  async update(tenantId: string, id: string, body: UpdateWebhookDto): Promise<WebhookDto> {
    if (body.url === undefined && body.events === undefined && body.enabled === undefined) {
      throw new ValidationFailedError([
        { field: '(body)', rule: 'at_least_one', message: 'send url, events and/or enabled' },
      ]);
    }
    // Another tenant's webhook is a 404 before anything about the body is said.
    await this.transactions.run((m) => this.endpoint(m, tenantId, id));
    if (body.url !== undefined) await this.checkTarget(body.url);
    const row = await this.transactions.run(async (manager) => {
      await this.endpoint(manager, tenantId, id, true);
      if (body.enabled === false) await this.deliveries.abandonPending(manager, id, 'endpoint disabled by the tenant');
      return this.endpoints.update(manager, id, { ...body, disabledReason: 'disabled by the tenant' });
    });
    return toWebhookDto(row);
  }

  async remove(tenantId: string, id: string): Promise<void> {
    await this.transactions.run(async (manager) => {
      await this.endpoint(manager, tenantId, id, true);
      await this.deliveries.abandonPending(manager, id, 'endpoint deleted');
      await this.endpoints.softDelete(manager, id);
    });
  }

  async rotateSecret(tenantId: string, id: string, query: RotateSecretQueryDto): Promise<WebhookSecretDto> {
    this.secrets.assertConfigured();
    const grace = query.graceSeconds ?? this.config.webhooks.secretGraceSeconds;
    const { secret, row } = await this.transactions.run(async (manager) => {
      const current = await this.endpoint(manager, tenantId, id, true);
      const issued = this.secrets.issue(id);
      const expires = grace > 0 ? new Date(Date.now() + grace * 1000) : null;
      const rotated = await this.endpoints.rotate(
        manager,
        id,
        issued.sealed,
        expires ? current.secretSealed : null,
        expires,
      );
      return { secret: issued.secret, row: rotated };
    });
    return { id, secret, previousSecretExpiresAt: toWebhookDto(row).previousSecretExpiresAt };
  }

  async deliveryPage(tenantId: string, id: string, query: ListDeliveriesQueryDto): Promise<WebhookDeliveryPageDto> {
    const limit = query.limit ?? 50;
    const after = query.cursor === undefined ? undefined : decodeKeysetCursor(query.cursor);
    const rows = await this.transactions.run(async (manager) => {
      await this.endpoint(manager, tenantId, id);
      return this.deliveries.page(manager, tenantId, id, { status: query.status, limit: limit + 1, after });
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      deliveries: page.map(toDeliveryDto),
      nextCursor: rows.length > limit ? encodeKeysetCursor(last.cursorTime, last.id) : null,
    };
  }

  async delivery(tenantId: string, id: string): Promise<WebhookDeliveryDetailDto> {
    return this.transactions.run(async (manager) => {
      const row = await this.findDelivery(manager, tenantId, id);
      const attempts = await this.deliveries.attempts(manager, id);
      return {
        ...toDeliveryDto(row),
        attemptLog: attempts.map((a) => ({
          attempt: a.attempt,
          startedAt: a.startedAt.toISOString(),
          statusCode: a.statusCode,
          latencyMs: a.latencyMs,
          error: a.error,
        })),
      };
    });
  }

  /** Sends the delivery's event again as a new delivery (new delivery id, same event id). */
  async redeliver(tenantId: string, id: string): Promise<WebhookDeliveryDto> {
    const newId = randomUUID();
    const row = await this.transactions.run(async (manager) => {
      const original = await this.findDelivery(manager, tenantId, id);
      const endpoint = await this.endpoint(manager, tenantId, original.webhookId, true);
      if (endpoint.disabledAt)
        throw new WebhookError(
          WebhookErrorCode.Disabled,
          `webhook ${endpoint.id} is disabled; enable it first (PATCH {"enabled": true})`,
        );
      await this.deliveries.insertRedelivery(manager, id, newId);
      await this.outbox.add(manager, [
        { jobName: 'webhook.deliver', payload: { deliveryId: newId }, jobId: deliveryJobId(newId, 1) },
      ]);
      return this.findDelivery(manager, tenantId, newId);
    });
    await this.relay.relay();
    return toDeliveryDto(row);
  }

  private async endpoint(manager: EntityManager, tenantId: string, id: string, lock = false): Promise<EndpointRow> {
    const row = UUID.test(id) ? await this.endpoints.find(manager, tenantId, id, lock) : null;
    if (!row) throw new WebhookError(WebhookErrorCode.NotFound, `no webhook ${id}`);
    return row;
  }

  private async findDelivery(manager: EntityManager, tenantId: string, id: string): Promise<DeliveryRow> {
    const row = UUID.test(id) ? await this.deliveries.find(manager, tenantId, id) : null;
    if (!row) throw new WebhookError(WebhookErrorCode.DeliveryNotFound, `no webhook delivery ${id}`);
    return row;
  }

  /** The SSRF rule at registration; the same rule is applied again at every delivery. */
  private async checkTarget(url: string): Promise<void> {
    if (this.config.webhooks.allowPrivateTargets) return;
    try {
      await resolveTarget(new URL(url), { allowPrivate: false, timeoutMs: this.config.webhooks.timeoutMs });
    } catch (error) {
      if (error instanceof TargetRefusedError)
        throw new ValidationFailedError([{ field: 'url', rule: error.rule, message: error.message }]);
      throw error;
    }
  }
}
