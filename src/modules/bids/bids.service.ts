import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { formatPrice, toMoney } from '../../core/money/money.js';
import { ValidationFailedError } from '../../platform/errors/app-error.js';
import { GpuCatalogService } from '../inventory/gpu-catalog.service.js';
import { GangLimitsService } from '../inventory/gang-limits.service.js';
import { LeaseStateService } from '../leases/lease-state.service.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import type { BidDto, BidPageDto, CreateBidDto, ListBidsQueryDto } from './bid.dto.js';
import { BidError, BidErrorCode } from './bid.error.js';
import { checkBid } from './bid-rules.js';
import { type BidRow, BidsRepository, type NewBid } from './bids.repository.js';
import { decodeKeysetCursor, encodeKeysetCursor } from '../../platform/http/keyset-cursor.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

export function toBidDto(row: BidRow): BidDto {
  return {
    id: row.id,
    tenantId: row.tenantId,
    status: row.status,
    gpus: row.gpus,
    offers: row.offers.map((o) => ({ gpuModel: o.gpuModel, maxPrice: formatPrice(toMoney(o.maxPrice)) })),
    contiguity: row.contiguity,
    preemptible: row.preemptible,
    runtimeSeconds: row.runtimeSeconds,
    remainingSeconds: row.remainingSeconds,
    window: row.deadline
      ? { notBefore: (row.notBefore ?? row.createdAt).toISOString(), deadline: row.deadline.toISOString() }
      : null,
    regions: row.regions,
    compliance: row.compliance,
    minGpuMemoryGb: row.minGpuMemoryGb,
    workload: row.workload as BidDto['workload'],
    lastLossReason: row.lastLossReason,
    idempotencyKey: row.idempotencyKey,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function encodeCursor(row: BidRow): string {
  return encodeKeysetCursor(row.createdAt.toISOString(), row.id);
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const { time, id } = decodeKeysetCursor(cursor);
  return { createdAt: new Date(time), id };
}

/** Stable text of a value with object keys sorted, so equal requests hash equally. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

@Injectable()
export class BidsService {
  constructor(
    private readonly bids: BidsRepository,
    private readonly catalog: GpuCatalogService,
    private readonly gangLimits: GangLimitsService,
    private readonly transactions: TransactionRunner,
    private readonly leaseState: LeaseStateService,
  ) {}

  /**
   * Validates and stores a bid. With an idempotency key, a repeat of the same request returns
   * the bid first created (`created: false`) and a different request under the same key is a conflict.
   */
  async submit(
    tenantId: string,
    input: CreateBidDto,
    idempotencyKey?: string,
  ): Promise<{ bid: BidDto; created: boolean }> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ValidationFailedError([
        {
          field: 'Idempotency-Key',
          rule: 'is_idempotency_key',
          message: 'Idempotency-Key must be 1-200 visible ASCII characters',
        },
      ]);
    }
    const offers = input.offers.map((o) => ({ gpuModel: o.gpuModel, maxPrice: toMoney(o.maxPrice).toFixed() }));
    const fields = {
      gpus: input.gpus,
      offers,
      contiguity: input.contiguity,
      preemptible: input.preemptible,
      runtimeSeconds: input.runtimeSeconds,
      notBefore: input.window?.notBefore ? new Date(input.window.notBefore) : null,
      deadline: input.window ? new Date(input.window.deadline) : null,
      regions: input.regions ?? [],
      compliance: input.compliance ?? [],
      minGpuMemoryGb: input.minGpuMemoryGb ?? 0,
      workload: { image: input.workload.image, command: input.workload.command, env: input.workload.env },
    };
    // The hash covers the request as the tenant sent it (prices normalised, a relative window start left relative).
    const requestHash =
      idempotencyKey === undefined
        ? null
        : createHash('sha256')
            .update(canonical({ ...fields, notBefore: input.window?.notBefore, deadline: input.window?.deadline }))
            .digest('hex');
    const bid: NewBid = { id: randomUUID(), tenantId, ...fields, idempotencyKey: idempotencyKey ?? null, requestHash };

    try {
      await this.check(input);
    } catch (error) {
      // A retry of a bid accepted earlier gets that bid, even if it would no longer pass (its
      // deadline has come closer): only on this failure path does a keyed submission cost a lookup.
      const replay =
        error instanceof ValidationFailedError && idempotencyKey !== undefined
          ? await this.replay(tenantId, idempotencyKey, requestHash!)
          : null;
      if (replay) return { bid: replay, created: false };
      throw error;
    }

    const inserted = await this.bids.insert(bid);
    if (inserted) {
      return {
        bid: toBidDto({
          ...bid,
          status: 'open',
          remainingSeconds: bid.runtimeSeconds,
          lastLossReason: null,
          ...inserted,
        }),
        created: true,
      };
    }
    const replay = await this.replay(tenantId, idempotencyKey!, requestHash!);
    if (!replay) throw new Error('idempotent insert found a conflicting key but no bid');
    return { bid: replay, created: false };
  }

  /** The bid first submitted under this key, or null; a different request under the key is a conflict. */
  private async replay(tenantId: string, idempotencyKey: string, requestHash: string): Promise<BidDto | null> {
    const existing = await this.bids.findByIdempotencyKey(tenantId, idempotencyKey);
    if (!existing) return null;
    if (existing.requestHash !== requestHash) {
      throw new BidError(BidErrorCode.IdempotencyKeyReused, 'this Idempotency-Key was used for a different request');
    }
    return toBidDto(existing);
  }

  /**
   * The rules a bid must meet beyond each field's own (also what a quote is held to); throws a 400 listing every
   * problem.
   */
  async check(input: CreateBidDto, now: Date = new Date()): Promise<void> {
    const models = await this.catalog.models();
    const needsInventory = input.contiguity === 'node' || input.contiguity === 'nvlink';
    const largest = needsInventory
      ? await this.gangLimits.forModels(input.offers.map((o) => o.gpuModel))
      : { node: null, nvlink: null };
    const problems = checkBid(input, {
      now,
      gpuMemoryGb: new Map([...models].map(([name, m]) => [name, m.memoryGb])),
      largest,
    });
    if (problems.length > 0) throw new ValidationFailedError(problems);
  }

  async get(tenantId: string, id: string): Promise<BidDto> {
    const row = UUID.test(id) ? await this.bids.findOwn(tenantId, id) : null;
    if (!row) throw new BidError(BidErrorCode.NotFound, `no bid ${id}`);
    const leases = await this.bids.leasesOf(id);
    return {
      ...toBidDto(row),
      leases: leases.map((l) => ({
        ...l,
        allocatedAt: l.allocatedAt.toISOString(),
        startedAt: l.startedAt?.toISOString() ?? null,
        endedAt: l.endedAt?.toISOString() ?? null,
      })),
    };
  }

  async list(tenantId: string, query: ListBidsQueryDto): Promise<BidPageDto> {
    const limit = query.limit ?? 50;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = await this.bids.page(tenantId, { status: query.status, limit: limit + 1, after });
    const page = rows.slice(0, limit);
    return { bids: page.map(toBidDto), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]) : null };
  }

  /** Cancels an unfinished bid; a bid holding a lease is released by the market loop at its next round. */
  async cancel(tenantId: string, id: string): Promise<BidDto> {
    if (!UUID.test(id)) throw new BidError(BidErrorCode.NotFound, `no bid ${id}`);
    // The bid and its live lease end together: the lease is settled up to now and its workload
    // gets a terminate order, or neither happens.
    const row = await this.transactions.run(async (manager) => {
      const cancelled = await this.bids.cancel(tenantId, id, manager);
      if (cancelled) await this.leaseState.cancel(manager, id, new Date());
      return cancelled;
    });
    if (row) return toBidDto(row);
    const existing = await this.bids.findOwn(tenantId, id);
    if (!existing) throw new BidError(BidErrorCode.NotFound, `no bid ${id}`);
    throw new BidError(BidErrorCode.AlreadyFinished, `bid ${id} is already ${existing.status}`);
  }
}
