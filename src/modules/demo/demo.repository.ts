import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** What the demo seeding reads to decide whether it has seeded already. */
@Injectable()
export class DemoRepository {
  constructor(private readonly dataSource: DataSource) {}

  async providerCount(): Promise<number> {
    const [{ n }]: Array<{ n: number }> = await this.dataSource.query('SELECT count(*)::int AS n FROM providers');
    return n;
  }

  /** The id of a tenant of that name; null when there is none. */
  async tenantIdByName(name: string): Promise<string | null> {
    const rows: Array<{ id: string }> = await this.dataSource.query('SELECT id FROM tenants WHERE name = $1 LIMIT 1', [
      name,
    ]);
    return rows[0]?.id ?? null;
  }
}
