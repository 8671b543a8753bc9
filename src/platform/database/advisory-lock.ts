import type { EntityManager } from 'typeorm';

/**
 * Transaction-scoped PostgreSQL advisory locks, keyed by a name (hashed to a bigint in the
 * database). The lock is released when the transaction ends, so a crash never leaves it held.
 * Use them to make one replica of the service do a thing (clear a round) at a time.
 */
export async function tryAdvisoryXactLock(manager: EntityManager, name: string): Promise<boolean> {
  assertInTransaction(manager);
  const rows: Array<{ locked: boolean }> = await manager.query(
    'SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked',
    [name],
  );
  return rows[0]?.locked === true;
}

/** Waits for the lock. */
export async function advisoryXactLock(manager: EntityManager, name: string): Promise<void> {
  assertInTransaction(manager);
  await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [name]);
}

function assertInTransaction(manager: EntityManager): void {
  if (!manager.queryRunner?.isTransactionActive) {
    throw new Error('advisory locks are transaction-scoped: call them with the manager of an open transaction');
  }
}
