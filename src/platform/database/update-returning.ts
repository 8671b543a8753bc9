import type { EntityManager } from 'typeorm';

/**
 * Rows of an `UPDATE ... RETURNING` or `DELETE ... RETURNING`. TypeORM's postgres driver answers
 * those with `[rows, affectedCount]` instead of the rows that a SELECT or INSERT returns.
 */
export async function updateReturning<T>(manager: EntityManager, sql: string, parameters: unknown[]): Promise<T[]> {
  const result: unknown = await manager.query(sql, parameters);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number')
    return result[0] as T[];
  return result as T[];
}
