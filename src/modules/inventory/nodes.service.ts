import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { nodeHealth } from '../../core/market/node-health.js';
import { formatPrice, toMoney } from '../../core/money/money.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { type FieldProblem, ValidationFailedError } from '../../platform/errors/app-error.js';
import type { Principal } from '../auth/principal.js';
import { GangLimitsService } from './gang-limits.service.js';
import { GpuCatalogService } from './gpu-catalog.service.js';
import type { NodeDto, NodeInputDto, PatchNodeDto } from './inventory.dto.js';
import { InventoryError, InventoryErrorCode } from './inventory.error.js';
import { type NodeRow, NodesRepository } from './nodes.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toDto(row: NodeRow, now: Date, unreachableAfterSeconds: number): NodeDto {
  const { unreachableSince, ...rest } = row;
  return {
    ...rest,
    reservePrice: formatPrice(toMoney(row.reservePrice)),
    health: nodeHealth(row.lastHeartbeatAt, now, unreachableAfterSeconds, unreachableSince !== null),
    lastHeartbeatAt: row.lastHeartbeatAt?.toISOString() ?? null,
    unavailableGpus: [...row.unavailableGpus].sort((a, b) => a.index - b.index),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

@Injectable()
export class NodesService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly nodes: NodesRepository,
    private readonly catalog: GpuCatalogService,
    private readonly gangLimits: GangLimitsService,
  ) {}

  async upsert(providerId: string, input: readonly NodeInputDto[]): Promise<NodeDto[]> {
    const models = await this.catalog.models();
    const problems: FieldProblem[] = [];
    const seen = new Set<string>();
    input.forEach((node, i) => {
      if (!models.has(node.gpuModel)) {
        problems.push({
          field: `nodes[${i}].gpuModel`,
          rule: 'unknown_gpu_model',
          message: `unknown GPU model ${node.gpuModel}; see GET /v1/gpu-models`,
        });
      }
      if (seen.has(node.externalId)) {
        problems.push({
          field: `nodes[${i}].externalId`,
          rule: 'unique',
          message: `externalId ${node.externalId} appears more than once`,
        });
      }
      seen.add(node.externalId);
    });
    if (problems.length > 0) throw new ValidationFailedError(problems);
    const rows = await this.nodes.upsert(
      providerId,
      input.map((n) => ({
        newId: randomUUID(),
        externalId: n.externalId,
        gpuModel: n.gpuModel,
        gpus: n.gpus,
        region: n.region,
        block: n.block,
        nvlinkDomain: n.nvlinkDomain ?? null,
        compliance: n.compliance ?? [],
        reservePrice: toMoney(n.reservePrice).toFixed(),
      })),
    );
    this.gangLimits.invalidate();
    return rows.map((row) => this.toDto(row));
  }

  /** A provider sees its own nodes; admin and finance see all. */
  async list(principal: Principal): Promise<NodeDto[]> {
    const rows = await this.nodes.find({ providerId: principal.role === 'provider' ? principal.providerId : null });
    return rows.map((row) => this.toDto(row));
  }

  async update(principal: Principal, id: string, change: PatchNodeDto): Promise<NodeDto> {
    if (change.state === undefined && change.reservePrice === undefined) {
      throw new ValidationFailedError([
        { field: '(body)', rule: 'at_least_one', message: 'send state and/or reservePrice' },
      ]);
    }
    // Another provider's node answers exactly as a missing one, so ids leak nothing.
    const row = UUID.test(id)
      ? await this.nodes.update(id, principal.role === 'provider' ? principal.providerId : null, {
          state: change.state,
          reservePrice: change.reservePrice === undefined ? undefined : toMoney(change.reservePrice).toFixed(),
        })
      : null;
    if (!row) throw new InventoryError(InventoryErrorCode.NodeNotFound, `no node ${id}`);
    this.gangLimits.invalidate();
    return this.toDto(row);
  }

  private toDto(row: NodeRow): NodeDto {
    return toDto(row, new Date(), this.config.heartbeatUnreachableSeconds);
  }
}
