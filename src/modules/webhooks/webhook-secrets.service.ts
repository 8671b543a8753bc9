import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { advisoryXactLock } from '../../platform/database/advisory-lock.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import type { SecretBox } from './secret-box.js';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { WebhookError, WebhookErrorCode } from './webhook.error.js';
import { WEBHOOK_SECRET_BOX } from './webhook-secret-key.js';
import { newWebhookSecret } from './webhook-signature.js';

export interface SealedSecrets {
  readonly id: string;
  readonly secretSealed: string | null;
  readonly previousSecretSealed: string | null;
  readonly previousSecretExpiresAt: Date | null;
}

/** Endpoint secrets: issued, sealed at rest, opened only to sign a delivery. */
@Injectable()
export class WebhookSecretsService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Webhooks');

  constructor(
    @Inject(WEBHOOK_SECRET_BOX) private readonly box: SecretBox | null,
    private readonly transactions: TransactionRunner,
    private readonly endpoints: WebhookEndpointsRepository,
  ) {}

  private get sealer(): SecretBox {
    if (!this.box)
      throw new WebhookError(
        WebhookErrorCode.NotConfigured,
        'webhooks are not configured on this service: the operator must set WEBHOOK_SECRET_KEY',
      );
    return this.box;
  }

  /** Throws the 503 when no key is configured (checked before anything else is done). */
  assertConfigured(): void {
    void this.sealer;
  }

  /** A new secret for the endpoint, and its envelope for the database. */
  issue(endpointId: string): { secret: string; sealed: string } {
    const secret = newWebhookSecret();
    return { secret, sealed: this.sealer.seal(secret, endpointId) };
  }

  /**
   * The secrets that sign now: the current one, and the previous one while its grace period
   * lasts. A previous secret that no key opens any more is left out rather than failing the
   * delivery: the current one still signs.
   */
  signingSecrets(endpoint: SealedSecrets, now: Date): string[] {
    if (!endpoint.secretSealed) throw new Error('the endpoint has no secret (deleted)');
    const secrets = [this.sealer.open(endpoint.secretSealed, endpoint.id)];
    if (endpoint.previousSecretSealed && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now) {
      try {
        secrets.push(this.sealer.open(endpoint.previousSecretSealed, endpoint.id));
      } catch (error) {
        this.logger.warn(
          `endpoint ${endpoint.id}: previous secret unreadable (${(error as Error).message}); signing with the current one only`,
        );
      }
    }
    return secrets;
  }

  /** After WEBHOOK_SECRET_KEY changed: re-seals every secret still under the previous key. */
  async onApplicationBootstrap(): Promise<void> {
    const box = this.box;
    if (!box?.hasPreviousKey) return;
    const reseal = (id: string, sealed: string | null): string | null => {
      if (sealed === null || box.isCurrent(sealed)) return sealed;
      try {
        return box.seal(box.open(sealed, id), id);
      } catch (error) {
        // Sealed under neither key: left as it is; its deliveries fail until the tenant rotates the secret.
        this.logger.error(`endpoint ${id}: cannot re-seal its secret (${(error as Error).message})`);
        return sealed;
      }
    };
    const resealed = await this.transactions.run(async (manager) => {
      await advisoryXactLock(manager, 'gpumarket:webhook-reseal');
      let count = 0;
      for (const row of await this.endpoints.sealedSecrets(manager)) {
        const secret = reseal(row.id, row.secretSealed)!;
        const previous = reseal(row.id, row.previousSecretSealed);
        if (secret === row.secretSealed && previous === row.previousSecretSealed) continue;
        await this.endpoints.reseal(manager, row.id, secret, previous);
        count++;
      }
      return count;
    });
    if (resealed > 0)
      this.logger.log(`re-sealed the secrets of ${resealed} webhook endpoint(s) under the current WEBHOOK_SECRET_KEY`);
  }
}
