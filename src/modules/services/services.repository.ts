import type { ConcurrencySample } from '../../core/services/autoscaler.js';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { updateReturning } from '../../platform/database/update-returning.js';
import type { AdapterKind } from '../dispatch/adapters/provider-adapter.js';

export type ServiceState = 'active' | 'deleting' | 'deleted';
export type ReplicaState = 'bidding' | 'starting' | 'ready' | 'noticed' | 'draining' | 'ended';

export interface ReplicaSpec {
  readonly gpus: number;
  readonly offers: ReadonlyArray<{ gpuModel: string; maxPrice: string }>;
  readonly contiguity: string;
  readonly preemptible: boolean;
  readonly regions: string[];
  readonly compliance: string[];
  readonly minGpuMemoryGb: number;
}

export interface ServiceWorkload {
  readonly image?: string;
  readonly command?: string[];
  readonly port: number;
  readonly readinessPath: string;
  readonly env?: Record<string, string>;
}

export interface ScalingSettings {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly targetConcurrency: number;
  readonly scaleDownDelaySeconds: number;
  readonly scaleToZeroAfterSeconds: number;
  readonly maxPendingRequests: number;
  readonly pendingTimeoutSeconds: number;
  readonly stableWindowSeconds: number;
  readonly panicWindowSeconds: number;
}

export interface ServiceRow extends ScalingSettings {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly state: ServiceState;
  readonly replica: ReplicaSpec;
  readonly workload: ServiceWorkload;
  readonly desiredReplicas: number;
  readonly invokeKeyHash: string;
  readonly invokeKeyPrefix: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Stored request counts of every market process (bigint, as text). */
  readonly requestsTotal: string;
  readonly rejectedTotal: string;
  readonly timedOutTotal: string;
}

export interface TrafficCounts {
  readonly requests: number;
  readonly rejected: number;
  readonly timedOut: number;
}

/** What one market process's gateway sees of a service (published about every second). */
export interface GatewayView {
  readonly serviceId: string;
  readonly held: number;
  readonly inFlight: Readonly<Record<string, number>>;
  readonly lastRequestAt: number | null;
  readonly samples: readonly ConcurrencySample[];
}

/** Another process's published view. */
export interface PeerGateway extends Omit<GatewayView, 'serviceId'> {
  readonly updatedAt: Date;
}

/** Gateway rows not rewritten for this long belong to processes that are gone. */
const GATEWAY_ROW_KEEP_SECONDS = 3600;

/** A replica with its bid's status and its bid's latest lease. */
export interface ReplicaRow {
  readonly id: string;
  readonly serviceId: string;
  readonly rank: number;
  readonly bidId: string | null;
  readonly leaseId: string | null;
  readonly state: ReplicaState;
  readonly endpoint: string | null;
  readonly fromZero: boolean;
  readonly requestedAt: Date;
  readonly readyAt: Date | null;
  /** When it was told to drain (a gateway that has not published since may still route to it). */
  readonly drainingSince: Date | null;
  readonly bidStatus: string | null;
  readonly bidMaxPrice: string | null;
  readonly latestLeaseId: string | null;
  readonly latestLeaseState: string | null;
  readonly latestLeaseAllocatedAt: Date | null;
}

export interface ReplicaTimes {
  readonly allocatedAt?: Date | null;
  readonly spawnedAt?: Date | null;
  readonly listeningAt?: Date | null;
  readonly readyAt?: Date | null;
}

export interface ColdStartRow {
  readonly replicaId: string;
  readonly fromZero: boolean;
  readonly requestedAt: Date;
  readonly allocatedAt: Date | null;
  readonly spawnedAt: Date | null;
  readonly listeningAt: Date | null;
  readonly readyAt: Date;
}

export interface DecisionRow {
  readonly decidedAt: Date;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
  readonly inputs: Record<string, unknown>;
}

export interface PlaceHandle {
  readonly providerId: string;
  readonly adapter: AdapterKind;
  readonly handle: string;
}

const SELECT_SERVICE = `
  SELECT id, tenant_id AS "tenantId", name, state, replica, workload, min_replicas AS "minReplicas", max_replicas AS "maxReplicas",
         target_concurrency AS "targetConcurrency", scale_down_delay_seconds AS "scaleDownDelaySeconds",
         scale_to_zero_after_seconds AS "scaleToZeroAfterSeconds", max_pending_requests AS "maxPendingRequests",
         pending_timeout_seconds AS "pendingTimeoutSeconds", stable_window_seconds AS "stableWindowSeconds",
         panic_window_seconds AS "panicWindowSeconds", desired_replicas AS "desiredReplicas",
         invoke_key_hash AS "invokeKeyHash", invoke_key_prefix AS "invokeKeyPrefix", created_at AS "createdAt", updated_at AS "updatedAt",
         requests_total::text AS "requestsTotal", rejected_total::text AS "rejectedTotal", timed_out_total::text AS "timedOutTotal"
    FROM services`;

const SETTING_COLUMNS: Record<keyof ScalingSettings, string> = {
  minReplicas: 'min_replicas',
  maxReplicas: 'max_replicas',
  targetConcurrency: 'target_concurrency',
  scaleDownDelaySeconds: 'scale_down_delay_seconds',
  scaleToZeroAfterSeconds: 'scale_to_zero_after_seconds',
  maxPendingRequests: 'max_pending_requests',
  pendingTimeoutSeconds: 'pending_timeout_seconds',
  stableWindowSeconds: 'stable_window_seconds',
  panicWindowSeconds: 'panic_window_seconds',
};

@Injectable()
export class ServicesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Null when the tenant already has a live service of that name. */
  async insert(
    row: Omit<
      ServiceRow,
      'state' | 'desiredReplicas' | 'createdAt' | 'updatedAt' | 'requestsTotal' | 'rejectedTotal' | 'timedOutTotal'
    >,
  ): Promise<ServiceRow | null> {
    const settings = Object.keys(SETTING_COLUMNS) as Array<keyof ScalingSettings>;
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `INSERT INTO services (id, tenant_id, name, replica, workload, invoke_key_hash, invoke_key_prefix, ${settings.map((k) => SETTING_COLUMNS[k]).join(', ')})
       VALUES ($1, $2, $3, $4, $5, $6, $7, ${settings.map((_, i) => `$${i + 8}`).join(', ')})
       ON CONFLICT (tenant_id, name) WHERE state <> 'deleted' DO NOTHING RETURNING id`,
      [
        row.id,
        row.tenantId,
        row.name,
        JSON.stringify(row.replica),
        JSON.stringify(row.workload),
        row.invokeKeyHash,
        row.invokeKeyPrefix,
        ...settings.map((k) => row[k]),
      ],
    );
    return rows[0] ? this.findById(row.id) : null;
  }

  async findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<ServiceRow | null> {
    const rows: ServiceRow[] = await manager.query(`${SELECT_SERVICE} WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async findOwn(tenantId: string, id: string): Promise<ServiceRow | null> {
    const rows: ServiceRow[] = await this.dataSource.query(
      `${SELECT_SERVICE} WHERE id = $1 AND tenant_id = $2 AND state <> 'deleted'`,
      [id, tenantId],
    );
    return rows[0] ?? null;
  }

  list(tenantId: string): Promise<ServiceRow[]> {
    return this.dataSource.query(
      `${SELECT_SERVICE} WHERE tenant_id = $1 AND state <> 'deleted' ORDER BY created_at, id`,
      [tenantId],
    );
  }

  /** Services the runner looks after: active ones, and deleting ones until their replicas have ended. */
  live(): Promise<ServiceRow[]> {
    return this.dataSource.query(`${SELECT_SERVICE} WHERE state <> 'deleted' ORDER BY id`);
  }

  async updateSettings(id: string, settings: Partial<ScalingSettings>): Promise<void> {
    const keys = (Object.keys(settings) as Array<keyof ScalingSettings>).filter((k) => settings[k] !== undefined);
    if (keys.length === 0) return;
    await this.dataSource.query(
      `UPDATE services SET ${keys.map((k, i) => `${SETTING_COLUMNS[k]} = $${i + 2}`).join(', ')}, updated_at = now() WHERE id = $1`,
      [id, ...keys.map((k) => settings[k])],
    );
  }

  async markDeleting(id: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE services SET state = 'deleting', updated_at = now() WHERE id = $1 AND state = 'active'`,
      [id],
    );
  }

  async markDeleted(id: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE services SET state = 'deleted', deleted_at = now(), updated_at = now() WHERE id = $1 AND state = 'deleting'`,
      [id],
    );
  }

  /** A change of the desired count and the decision behind it, together. */
  async decide(serviceId: string, from: number, to: number, reason: string, inputs: object): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(`UPDATE services SET desired_replicas = $2, updated_at = now() WHERE id = $1`, [
        serviceId,
        to,
      ]);
      await manager.query(
        `INSERT INTO service_scaling_decisions (service_id, from_replicas, to_replicas, reason, inputs) VALUES ($1, $2, $3, $4, $5)`,
        [serviceId, from, to, reason, JSON.stringify(inputs)],
      );
    });
  }

  async decisions(serviceId: string, limit: number): Promise<DecisionRow[]> {
    return this.dataSource.query(
      `SELECT decided_at AS "decidedAt", from_replicas AS "from", to_replicas AS "to", reason, inputs
         FROM service_scaling_decisions WHERE service_id = $1 ORDER BY id DESC LIMIT $2`,
      [serviceId, limit],
    );
  }

  async insertReplica(replica: {
    id: string;
    serviceId: string;
    rank: number;
    fromZero: boolean;
    replaces: string | null;
  }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO service_replicas (id, service_id, rank, from_zero, replaces) VALUES ($1, $2, $3, $4, $5)`,
      [replica.id, replica.serviceId, replica.rank, replica.fromZero, replica.replaces],
    );
  }

  async updateReplica(
    id: string,
    change: {
      state?: ReplicaState;
      bidId?: string;
      leaseId?: string | null;
      endpoint?: string | null;
      endReason?: string;
    } & ReplicaTimes,
  ): Promise<void> {
    const columns: Record<string, unknown> = {
      state: change.state,
      bid_id: change.bidId,
      lease_id: change.leaseId,
      endpoint: change.endpoint,
      end_reason: change.endReason,
      allocated_at: change.allocatedAt,
      spawned_at: change.spawnedAt,
      listening_at: change.listeningAt,
      ready_at: change.readyAt,
    };
    const set = Object.entries(columns).filter(([, v]) => v !== undefined);
    if (change.state === 'ended') set.push(['ended_at', new Date()]);
    if (change.state === 'draining') set.push(['draining_since', new Date()]);
    if (set.length === 0) return;
    await this.dataSource.query(
      `UPDATE service_replicas SET ${set.map(([c], i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1`,
      [id, ...set.map(([, v]) => v)],
    );
  }

  /** The replicas not yet ended, with their bid's status and latest lease. */
  liveReplicas(serviceId: string): Promise<ReplicaRow[]> {
    return this.dataSource.query(
      `SELECT r.id, r.service_id AS "serviceId", r.rank, r.bid_id AS "bidId", r.lease_id AS "leaseId", r.state, r.endpoint,
              r.from_zero AS "fromZero", r.requested_at AS "requestedAt", r.ready_at AS "readyAt",
              r.draining_since AS "drainingSince", b.status AS "bidStatus",
              (SELECT o.max_price::text FROM bid_offers o WHERE o.bid_id = r.bid_id ORDER BY o.rank LIMIT 1) AS "bidMaxPrice",
              l.id AS "latestLeaseId", l.state AS "latestLeaseState", l.allocated_at AS "latestLeaseAllocatedAt"
         FROM service_replicas r
         LEFT JOIN bids b ON b.id = r.bid_id
         -- When the lease's round committed: where a cold start's market wait ends.
         LEFT JOIN LATERAL (SELECT le.id, le.state, COALESCE(ro.committed_at, le.allocated_at) AS allocated_at
                              FROM leases le LEFT JOIN rounds ro ON ro.id = le.round_id
                             WHERE le.bid_id = r.bid_id ORDER BY le.allocated_at DESC, le.id DESC LIMIT 1) l ON true
        WHERE r.service_id = $1 AND r.state <> 'ended'
        ORDER BY r.rank, r.requested_at`,
      [serviceId],
    );
  }

  coldStarts(serviceId: string, limit: number): Promise<ColdStartRow[]> {
    return this.dataSource.query(
      `SELECT id AS "replicaId", from_zero AS "fromZero", requested_at AS "requestedAt", allocated_at AS "allocatedAt",
              spawned_at AS "spawnedAt", listening_at AS "listeningAt", ready_at AS "readyAt"
         FROM service_replicas WHERE service_id = $1 AND ready_at IS NOT NULL ORDER BY ready_at DESC LIMIT $2`,
      [serviceId, limit],
    );
  }

  /**
   * What the service's replicas have been charged so far (the ledger, settled up to each lease's
   * last round), and its flaps: scale-ups that came within twice the scale-down delay of a
   * scale-down (the thrash the delay is there to prevent).
   */
  async usage(
    serviceId: string,
    scaleDownDelaySeconds: number,
  ): Promise<{ gpuSeconds: number; charged: string; flaps: number }> {
    const [row]: Array<{ gpuSeconds: string | null; charged: string | null; flaps: string }> =
      await this.dataSource.query(
        `SELECT (SELECT sum(e.seconds::bigint * e.gpus) FROM ledger_entries e WHERE e.bid_id IN (SELECT bid_id FROM service_replicas WHERE service_id = $1 AND bid_id IS NOT NULL)) AS "gpuSeconds",
              (SELECT sum(e.charge) FROM ledger_entries e WHERE e.bid_id IN (SELECT bid_id FROM service_replicas WHERE service_id = $1 AND bid_id IS NOT NULL))::text AS charged,
              (SELECT count(*) FROM service_scaling_decisions up
                WHERE up.service_id = $1 AND up.to_replicas > up.from_replicas
                  AND EXISTS (SELECT 1 FROM service_scaling_decisions down
                               WHERE down.service_id = $1 AND down.to_replicas < down.from_replicas AND down.id < up.id
                                 AND down.decided_at >= up.decided_at - make_interval(secs => 2 * $2::double precision))) AS flaps`,
        [serviceId, scaleDownDelaySeconds],
      );
    return { gpuSeconds: Number(row?.gpuSeconds ?? 0), charged: row?.charged ?? '0', flaps: Number(row?.flaps ?? 0) };
  }

  /**
   * Adds what a gateway counted since its last flush, in one transaction: to the services' totals
   * and to the minute `at` falls in. Additive, so every market process flushes its own counts.
   */
  async addTraffic(counts: ReadonlyMap<string, TrafficCounts>, at: Date): Promise<void> {
    if (counts.size === 0) return;
    const ids = [...counts.keys()];
    const column = (name: keyof TrafficCounts) => ids.map((id) => counts.get(id)![name]);
    const params = [ids, column('requests'), column('rejected'), column('timedOut'), at];
    await this.dataSource.transaction(async (manager) => {
      // Services first, in id order, as every writer of services rows locks them.
      await manager.query(
        `UPDATE services s SET requests_total = s.requests_total + c.requests, rejected_total = s.rejected_total + c.rejected,
                timed_out_total = s.timed_out_total + c.timed_out
           FROM (SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[]) AS c(id, requests, rejected, timed_out) ORDER BY id) c
          WHERE s.id = c.id`,
        params.slice(0, 4),
      );
      await manager.query(
        `INSERT INTO service_traffic (service_id, minute, requests, rejected, timed_out)
         SELECT c.id, date_trunc('minute', $5::timestamptz), c.requests, c.rejected, c.timed_out
           FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[]) AS c(id, requests, rejected, timed_out)
          WHERE EXISTS (SELECT 1 FROM services s WHERE s.id = c.id)
          ORDER BY c.id
         ON CONFLICT (service_id, minute) DO UPDATE SET requests = service_traffic.requests + excluded.requests,
                rejected = service_traffic.rejected + excluded.rejected, timed_out = service_traffic.timed_out + excluded.timed_out`,
        params,
      );
    });
  }

  /**
   * Takes or renews the runner lease of these services for `processId`: a service is taken when
   * nobody holds it or its holder let it lapse. Returns the services this process runs now.
   * Rows locked elsewhere are skipped (taken at the next tick), so no tick waits on another.
   */
  async claimRunners(serviceIds: readonly string[], processId: string, seconds: number): Promise<Set<string>> {
    if (serviceIds.length === 0) return new Set();
    const rows = await updateReturning<{ id: string }>(
      this.dataSource.manager,
      `UPDATE services s SET runner_id = $2, runner_until = now() + make_interval(secs => $3::int)
         FROM (SELECT id FROM services WHERE id = ANY($1::uuid[]) AND state <> 'deleted'
                 AND (runner_id = $2 OR runner_id IS NULL OR runner_until < now())
               ORDER BY id FOR UPDATE SKIP LOCKED) c
        WHERE s.id = c.id RETURNING s.id`,
      [serviceIds, processId, seconds],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Gives up this process's runner leases (it is stopping): another process takes them at once. */
  async releaseRunners(processId: string): Promise<void> {
    await this.dataSource.query(`UPDATE services SET runner_id = NULL, runner_until = NULL WHERE runner_id = $1`, [
      processId,
    ]);
  }

  /** Publishes what this process's gateway sees of each service; rows of processes long gone are dropped. */
  async publishGateways(processId: string, views: readonly GatewayView[]): Promise<void> {
    if (views.length > 0) {
      await this.dataSource.query(
        `INSERT INTO service_gateways (service_id, process_id, updated_at, held, in_flight, last_request_at, samples)
         SELECT v.service_id, $1, now(), v.held, v.in_flight, v.last_request_at, v.samples
           FROM unnest($2::uuid[], $3::int[], $4::jsonb[], $5::timestamptz[], $6::jsonb[])
                AS v(service_id, held, in_flight, last_request_at, samples)
          WHERE EXISTS (SELECT 1 FROM services s WHERE s.id = v.service_id)
          ORDER BY v.service_id
         ON CONFLICT (service_id, process_id) DO UPDATE SET updated_at = now(), held = excluded.held,
                in_flight = excluded.in_flight, last_request_at = excluded.last_request_at, samples = excluded.samples`,
        [
          processId,
          views.map((v) => v.serviceId),
          views.map((v) => v.held),
          views.map((v) => JSON.stringify(v.inFlight)),
          views.map((v) => (v.lastRequestAt === null ? null : new Date(v.lastRequestAt))),
          views.map((v) => JSON.stringify(v.samples)),
        ],
      );
    }
    await this.dataSource.query(
      `DELETE FROM service_gateways WHERE updated_at < now() - make_interval(secs => $1::int)`,
      [GATEWAY_ROW_KEEP_SECONDS],
    );
  }

  /** What the other processes' gateways published within `freshSeconds`, by service. */
  async peerGateways(
    serviceIds: readonly string[],
    processId: string,
    freshSeconds: number,
  ): Promise<Map<string, PeerGateway[]>> {
    const peers = new Map<string, PeerGateway[]>();
    if (serviceIds.length === 0) return peers;
    const rows: Array<{
      service_id: string;
      updated_at: Date;
      held: number;
      in_flight: Record<string, number>;
      last_request_at: Date | null;
      samples: PeerGateway['samples'];
    }> = await this.dataSource.query(
      `SELECT service_id, updated_at, held, in_flight, last_request_at, samples FROM service_gateways
        WHERE service_id = ANY($1::uuid[]) AND process_id <> $2 AND updated_at > now() - make_interval(secs => $3::int)`,
      [serviceIds, processId, freshSeconds],
    );
    for (const row of rows) {
      const list = peers.get(row.service_id) ?? [];
      list.push({
        updatedAt: new Date(row.updated_at),
        held: row.held,
        inFlight: row.in_flight,
        lastRequestAt: row.last_request_at ? new Date(row.last_request_at).getTime() : null,
        samples: row.samples,
      });
      peers.set(row.service_id, list);
    }
    return peers;
  }

  /** The service's stored counts per minute from `since` on, oldest first. */
  async trafficByMinute(serviceId: string, since: Date): Promise<Array<TrafficCounts & { minute: Date }>> {
    const rows: Array<{ minute: Date; requests: string; rejected: string; timed_out: string }> =
      await this.dataSource.query(
        `SELECT minute, requests::text, rejected::text, timed_out::text FROM service_traffic
          WHERE service_id = $1 AND minute >= $2 ORDER BY minute`,
        [serviceId, since],
      );
    return rows.map((r) => ({
      minute: r.minute,
      requests: Number(r.requests),
      rejected: Number(r.rejected),
      timedOut: Number(r.timed_out),
    }));
  }

  /** Where a lease's workload was placed (its place order's provider and handle), once placed. */
  async placeHandle(leaseId: string): Promise<PlaceHandle | null> {
    const rows: PlaceHandle[] = await this.dataSource.query(
      `SELECT o.provider_id AS "providerId", p.adapter, o.handle FROM orders o JOIN providers p ON p.id = o.provider_id
        WHERE o.lease_id = $1 AND o.type = 'place' AND o.state = 'done' AND o.handle IS NOT NULL ORDER BY o.created_at LIMIT 1`,
      [leaseId],
    );
    return rows[0] ?? null;
  }
}
