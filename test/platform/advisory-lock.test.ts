import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { ENTITIES } from '../../src/app.entities.js';
import { advisoryXactLock, tryAdvisoryXactLock } from '../../src/platform/database/advisory-lock.js';
import { createDataSource } from '../../src/platform/database/database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

let database: TestDatabase;
let dataSource: DataSource;

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = createDataSource(database.url, ENTITIES, 4);
  await dataSource.initialize();
});
afterAll(async () => {
  await dataSource?.destroy();
  await database?.drop();
});

/** Resolves when `release` is called; lets a test hold a transaction open. */
function gate(): { wait: Promise<void>; release: () => void } {
  let release!: () => void;
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { wait, release };
}

describe('advisory locks', () => {
  it('lets one transaction hold a named lock; another gets it only after the first ends', async () => {
    const held = gate();
    const acquired = gate();
    const holder = dataSource.transaction(async (manager) => {
      expect(await tryAdvisoryXactLock(manager, 'round:42')).toBe(true);
      acquired.release();
      await held.wait;
    });
    await acquired.wait;
    const whileHeld = await dataSource.transaction((manager) => tryAdvisoryXactLock(manager, 'round:42'));
    const otherName = await dataSource.transaction((manager) => tryAdvisoryXactLock(manager, 'round:43'));
    held.release();
    await holder;
    const afterwards = await dataSource.transaction((manager) => tryAdvisoryXactLock(manager, 'round:42'));
    expect({ whileHeld, otherName, afterwards }).toEqual({ whileHeld: false, otherName: true, afterwards: true });
  });

  it('makes a waiting transaction run after the holder commits', async () => {
    const order: string[] = [];
    const acquired = gate();
    const first = dataSource.transaction(async (manager) => {
      await advisoryXactLock(manager, 'bootstrap');
      acquired.release();
      await new Promise((r) => setTimeout(r, 200));
      order.push('first done');
    });
    await acquired.wait;
    const second = dataSource.transaction(async (manager) => {
      await advisoryXactLock(manager, 'bootstrap');
      order.push('second has the lock');
    });
    await Promise.all([first, second]);
    expect(order).toEqual(['first done', 'second has the lock']);
  });

  it('refuses to run outside a transaction, where the lock would be released at once', async () => {
    await expect(tryAdvisoryXactLock(dataSource.manager, 'x')).rejects.toThrow(/transaction/);
  });
});
