import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * GPUs a provider's own jobs hold on its nodes (outside the market), kept in the node's
 * `unavailable_gpus` with reason `provider_jobs` so the clearing snapshot does not sell them.
 * The platform counts GPUs per node, not which ones, so they are listed from the node's last
 * index down; entries an agent reported for other reasons are left as they are.
 */
@Injectable()
export class ProviderHoldsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Sets every node of the provider to the GPUs `held` names for it (none when absent); returns the nodes changed. */
  async replace(providerId: string, held: ReadonlyMap<string, number>): Promise<number> {
    // Wrapped so the count comes back as a row (TypeORM answers a bare UPDATE with [rows, count]).
    const [{ changed }]: Array<{ changed: number }> = await this.dataSource.query(
      `WITH held AS (SELECT * FROM unnest($2::text[], $3::int[]) AS h(external_id, gpus)),
            wanted AS (
              SELECT n.id,
                     COALESCE((SELECT jsonb_agg(u) FROM jsonb_array_elements(n.unavailable_gpus) u WHERE u ->> 'reason' IS DISTINCT FROM 'provider_jobs'), '[]'::jsonb)
                     || COALESCE((SELECT jsonb_agg(jsonb_build_object('index', n.gpus - k, 'reason', 'provider_jobs') ORDER BY k)
                                    FROM held h, generate_series(1, LEAST(n.gpus, h.gpus)) k WHERE h.external_id = n.external_id), '[]'::jsonb) AS gpus
                FROM nodes n WHERE n.provider_id = $1),
            updated AS (
              UPDATE nodes n SET unavailable_gpus = w.gpus
                FROM wanted w
               WHERE n.id = w.id AND n.unavailable_gpus IS DISTINCT FROM w.gpus
              RETURNING n.id)
       SELECT count(*)::int AS changed FROM updated`,
      [providerId, [...held.keys()], [...held.values()]],
    );
    return changed;
  }

  async providersOf(adapter: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM providers WHERE adapter = $1 ORDER BY id`,
      [adapter],
    );
    return rows.map((r) => r.id);
  }
}
