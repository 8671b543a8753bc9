import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** The database as the health probe sees it. */
@Injectable()
export class HealthRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** A round trip to the database: resolves once it answered. */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }
}
