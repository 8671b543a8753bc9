import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/**
 * Runs work in one database transaction and hands it the transaction's own manager. Everything
 * inside must use that manager: on the embedded database a second connection would wait for
 * this transaction to end, and a pool of one would deadlock.
 */
@Injectable()
export class TransactionRunner {
  constructor(private readonly dataSource: DataSource) {}

  run<T>(work: (manager: EntityManager) => Promise<T>, isolation: IsolationLevel = 'READ COMMITTED'): Promise<T> {
    return this.dataSource.transaction(isolation, work);
  }
}
