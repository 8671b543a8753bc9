import type { DataSource, EntityManager } from 'typeorm';
import type {
  SimulatedFleetStore,
  SimulatedNode,
  SimulatedPlacement,
  SimulatedWorkload,
} from './simulated-fleet-store.js';

interface WorkloadRow {
  lease_id: string;
  handle: string;
  placements: SimulatedPlacement[];
  started_at: Date;
  ends_at: Date;
  exit_code: number;
  ignores_term: boolean;
  term_at: Date | null;
  kill_at: Date | null;
}

const COLUMNS = 'lease_id, handle, placements, started_at, ends_at, exit_code, ignores_term, term_at, kill_at';

function toWorkload(row: WorkloadRow): SimulatedWorkload {
  return {
    leaseId: row.lease_id,
    handle: row.handle,
    placements: row.placements,
    startedAt: row.started_at.getTime(),
    endsAt: row.ends_at.getTime(),
    exitCode: row.exit_code,
    ignoresTerm: row.ignores_term,
    ...(row.term_at ? { termAt: row.term_at.getTime() } : {}),
    ...(row.kill_at ? { killAt: row.kill_at.getTime() } : {}),
  };
}

/**
 * The simulated fleet of one provider in PostgreSQL (migrations/*-simulated-fleet.sql): every
 * process and replica of the service sees the same workloads. Its nodes are the provider's
 * registered nodes. Placements take a transaction-scoped advisory lock of the fleet and look the
 * lease up under it, so two replicas placing at once never hand out one GPU twice, and a lease
 * is placed at most once (the table itself would take a second workload, as a controller would).
 */
export class PgSimulatedFleetStore implements SimulatedFleetStore {
  constructor(
    private readonly dataSource: DataSource,
    readonly providerId: string,
  ) {}

  placeOnce(
    leaseId: string,
    now: number,
    build: (nodes: ReadonlyMap<string, SimulatedNode>, live: readonly SimulatedWorkload[]) => SimulatedWorkload,
  ): Promise<{ workload: SimulatedWorkload; created: boolean }> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `gpumarket:simulated-fleet:${this.providerId}`,
      ]);
      const existing = await this.read(manager, leaseId);
      if (existing) return { workload: existing, created: false };
      const nodes: Array<{ external_id: string; gpus: number }> = await manager.query(
        'SELECT external_id, gpus FROM nodes WHERE provider_id = $1',
        [this.providerId],
      );
      const live: WorkloadRow[] = await manager.query(
        `SELECT ${COLUMNS} FROM simulated_workloads WHERE provider_id = $1 AND ends_at > $2`,
        [this.providerId, new Date(now)],
      );
      const workload = build(
        new Map(nodes.map((n) => [n.external_id, { externalId: n.external_id, gpus: n.gpus }])),
        live.map(toWorkload),
      );
      await manager.query(
        `INSERT INTO simulated_workloads (provider_id, lease_id, handle, placements, started_at, ends_at, exit_code, ignores_term)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)`,
        [
          this.providerId,
          workload.leaseId,
          workload.handle,
          JSON.stringify(workload.placements),
          new Date(workload.startedAt),
          new Date(workload.endsAt),
          workload.exitCode,
          workload.ignoresTerm,
        ],
      );
      return { workload, created: true };
    });
  }

  async get(leaseId: string): Promise<SimulatedWorkload | undefined> {
    return this.read(this.dataSource.manager, leaseId);
  }

  async stop(leaseId: string, termAt: number, killAt: number): Promise<SimulatedWorkload | undefined> {
    await this.dataSource.query(
      `UPDATE simulated_workloads SET term_at = $3, kill_at = $4
        WHERE id = (SELECT min(id) FROM simulated_workloads WHERE provider_id = $1 AND lease_id = $2) AND term_at IS NULL`,
      [this.providerId, leaseId, new Date(termAt), new Date(killAt)],
    );
    return this.get(leaseId);
  }

  private async read(manager: EntityManager, leaseId: string): Promise<SimulatedWorkload | undefined> {
    const rows: WorkloadRow[] = await manager.query(
      `SELECT ${COLUMNS} FROM simulated_workloads WHERE provider_id = $1 AND lease_id = $2 ORDER BY id LIMIT 1`,
      [this.providerId, leaseId],
    );
    return rows[0] ? toWorkload(rows[0]) : undefined;
  }
}
