import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { UnavailableGpu } from '../../core/market/node-health.js';

export interface HeartbeatNode {
  readonly id: string;
  readonly gpus: number;
}

export interface SilentNode {
  readonly id: string;
  readonly externalId: string;
  readonly lastHeartbeatAt: Date;
  /** The database's clock when the node was locked: the fence's time. */
  readonly now: Date;
}

/**
 * The heartbeat columns of nodes (migrations/1765100000000-node-health.sql). Times come from
 * the database's clock, so replicas with skewed clocks judge silence alike.
 */
@Injectable()
export class NodeHeartbeatsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async find(providerId: string, externalId: string): Promise<HeartbeatNode | null> {
    const rows: HeartbeatNode[] = await this.dataSource.query(
      `SELECT id, gpus FROM nodes WHERE provider_id = $1 AND external_id = $2`,
      [providerId, externalId],
    );
    return rows[0] ?? null;
  }

  /**
   * Records a sign of life: the node is heard from now, a fence is lifted, and its unusable GPUs
   * are replaced when the agent listed its GPUs (`undefined`: left as they were). Null when the
   * provider has no such node; else whether the node had been fenced.
   */
  async beat(
    providerId: string,
    externalId: string,
    unavailable?: readonly UnavailableGpu[],
  ): Promise<{ wasFenced: boolean } | null> {
    const [rows]: [Array<{ was_fenced: boolean }>, number] = await this.dataSource.query(
      `UPDATE nodes n SET last_heartbeat_at = now(), unreachable_since = NULL,
              unavailable_gpus = COALESCE($3::jsonb, n.unavailable_gpus)
         FROM (SELECT id, unreachable_since IS NOT NULL AS was_fenced FROM nodes
                WHERE provider_id = $1 AND external_id = $2 FOR UPDATE) old
        WHERE n.id = old.id
       RETURNING old.was_fenced`,
      [providerId, externalId, unavailable === undefined ? null : JSON.stringify(unavailable)],
    );
    return rows[0] ? { wasFenced: rows[0].was_fenced } : null;
  }

  /** Nodes heard from at least once, not fenced yet, and silent for `unreachableAfterSeconds`. */
  async silentNodeIds(unreachableAfterSeconds: number): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM nodes
        WHERE last_heartbeat_at IS NOT NULL AND unreachable_since IS NULL
          AND last_heartbeat_at <= now() - make_interval(secs => $1::int)
        ORDER BY last_heartbeat_at LIMIT 1000`,
      [unreachableAfterSeconds],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Locks the node for fencing if it is still silent: a heartbeat that committed meanwhile wins,
   * and one arriving now waits for the fence and then lifts it.
   */
  async lockSilent(
    manager: EntityManager,
    nodeId: string,
    unreachableAfterSeconds: number,
  ): Promise<SilentNode | null> {
    const rows: SilentNode[] = await manager.query(
      `SELECT id, external_id AS "externalId", last_heartbeat_at AS "lastHeartbeatAt", now() AS now FROM nodes
        WHERE id = $1 AND last_heartbeat_at IS NOT NULL AND unreachable_since IS NULL
          AND last_heartbeat_at <= now() - make_interval(secs => $2::int)
          FOR UPDATE`,
      [nodeId, unreachableAfterSeconds],
    );
    return rows[0] ?? null;
  }

  async markUnreachable(manager: EntityManager, nodeId: string, at: Date): Promise<void> {
    await manager.query(`UPDATE nodes SET unreachable_since = $2 WHERE id = $1`, [nodeId, at]);
  }

  /** The live leases with a share on the node, oldest first. */
  async liveLeasesOn(manager: EntityManager, nodeId: string): Promise<Array<{ id: string; startedAt: Date | null }>> {
    return manager.query(
      `SELECT l.id, l.started_at AS "startedAt" FROM leases l
        WHERE l.state IN ('allocated', 'running', 'preempting')
          AND EXISTS (SELECT 1 FROM lease_nodes ln WHERE ln.lease_id = l.id AND ln.node_id = $1)
        ORDER BY l.allocated_at, l.id`,
      [nodeId],
    );
  }
}
