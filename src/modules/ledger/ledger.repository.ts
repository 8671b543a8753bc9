import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { toMoney, type Money } from '../../core/money/money.js';
import { settleLeasePeriod } from '../../core/settlement/settle-lease.js';

interface ShareRow {
  lease_id: string;
  bid_id: string;
  tenant_id: string;
  gpu_model: string;
  limit_price: string;
  settled_until: Date;
  bill_until: Date;
  node_id: string;
  provider_id: string;
  region: string;
  gpus: number;
  node_price: string;
}

/**
 * Writes what leases owe for the time they ran: one ledger row per lease, node and interval,
 * at the node prices the lease held for the interval (src/core/settlement/settle-lease.ts:
 * the node earns its price, the tenant pays min(limit, mean node price), the rest is uplift).
 * Whole seconds only, and `settled_until` moves by exactly the seconds charged, so no fraction
 * is lost or billed twice. Call it inside the transaction that changes the lease.
 */
@Injectable()
export class LedgerRepository {
  async settle(
    manager: EntityManager,
    leaseIds: readonly string[],
    until: Date,
    feePercent: Money,
    roundId: string | null,
    options: { upToLastHeartbeat?: boolean } = {},
  ): Promise<number> {
    if (leaseIds.length === 0) return 0;
    // upToLastHeartbeat (a round's periodic settlement): a lease on a node whose agent heartbeats
    // is charged no further than the node's last heartbeat, so a node found dead later has billed
    // nothing past it (node-fencing.service.ts ends its leases there); what is left is charged
    // by the next settlement, or by the lease's end.
    const rows: ShareRow[] = await manager.query(
      `SELECT * FROM (
         SELECT l.id AS lease_id, l.bid_id, l.tenant_id, l.gpu_model, l.limit_price::text AS limit_price, l.settled_until,
                LEAST($2::timestamptz, CASE WHEN $3::boolean THEN
                  (SELECT min(n.last_heartbeat_at) FROM lease_nodes x JOIN nodes n ON n.id = x.node_id WHERE x.lease_id = l.id) END) AS bill_until,
                ln.node_id, ln.provider_id, ln.region, ln.gpus, ln.node_price::text AS node_price
           FROM leases l JOIN lease_nodes ln ON ln.lease_id = l.id
          WHERE l.id = ANY($1::uuid[]) AND l.settled_until IS NOT NULL AND l.settled_until < $2
          ORDER BY l.id, ln.node_id
            FOR UPDATE OF l) s
        WHERE s.settled_until < s.bill_until`,
      [leaseIds, until, options.upToLastHeartbeat === true],
    );
    const columns: Record<string, unknown[]> = {
      round: [],
      lease: [],
      bid: [],
      tenant: [],
      provider: [],
      node: [],
      model: [],
      region: [],
      start: [],
      end: [],
      seconds: [],
      gpus: [],
      unit: [],
      nodePrice: [],
      charge: [],
      uplift: [],
      fee: [],
      payout: [],
    };
    const advanced = new Map<string, Date>();
    const byLease = new Map<string, ShareRow[]>();
    for (const row of rows) {
      const list = byLease.get(row.lease_id);
      if (list) list.push(row);
      else byLease.set(row.lease_id, [row]);
    }
    for (const [leaseId, shares] of byLease) {
      const first = shares[0];
      const seconds = Math.floor((first.bill_until.getTime() - first.settled_until.getTime()) / 1000);
      if (seconds <= 0) continue;
      const end = new Date(first.settled_until.getTime() + seconds * 1000);
      const s = settleLeasePeriod({
        leaseId,
        limit: toMoney(first.limit_price),
        shares: shares.map((row) => ({ gpus: row.gpus, nodePrice: toMoney(row.node_price) })),
        seconds,
        feePercent,
      });
      shares.forEach((row, i) => {
        const share = s.shares[i];
        const values = [
          roundId,
          leaseId,
          row.bid_id,
          row.tenant_id,
          row.provider_id,
          row.node_id,
          row.gpu_model,
          row.region,
          row.settled_until,
          end,
          seconds,
          row.gpus,
          s.unitPrice.toFixed(),
          row.node_price,
          share.charge.toFixed(6),
          share.uplift.toFixed(6),
          share.fee.toFixed(6),
          share.payout.toFixed(6),
        ];
        Object.values(columns).forEach((column, k) => column.push(values[k]));
      });
      advanced.set(leaseId, end);
    }
    if (advanced.size === 0) return 0;
    await manager.query(
      `INSERT INTO ledger_entries (round_id, lease_id, bid_id, tenant_id, provider_id, node_id, gpu_model, region,
                                   period_start, period_end, seconds, gpus, unit_price, node_price, charge, uplift, fee, payout)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                            $9::timestamptz[], $10::timestamptz[], $11::int[], $12::int[], $13::numeric[], $14::numeric[],
                            $15::numeric[], $16::numeric[], $17::numeric[], $18::numeric[])`,
      Object.values(columns),
    );
    await manager.query(
      `UPDATE leases l SET settled_until = v.until, updated_at = now()
         FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, until) WHERE l.id = v.id`,
      [[...advanced.keys()], [...advanced.values()]],
    );
    return Object.values(columns)[0].length;
  }
}
