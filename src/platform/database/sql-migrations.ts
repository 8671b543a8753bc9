import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migrations are plain SQL files in the top-level migrations/ folder, named
 * `<13-digit unix-ms timestamp>-<name>.sql`, applied in timestamp order by TypeORM's migration
 * runner (which records them in the `migrations` table). SQL files keep the schema readable and
 * reviewable, and are found at run time from both src/ (tests) and dist/ (the built service),
 * which sit at the same depth under the package root.
 *
 * Migrations move forward only: once a file has landed it is never edited; a change is a new file.
 */
export const MIGRATIONS_DIR = join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'migrations');

/** The nearest folder upwards that holds package.json: the same from src/, dist/ and dist/bench/. */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '../../..');
  }
}

const FILE_NAME = /^(\d{13})-([a-z0-9-]+)\.sql$/;

function className(timestamp: string, name: string): string {
  const camel = name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
  return `${camel}${timestamp}`;
}

export function loadSqlMigrations(dir: string = MIGRATIONS_DIR): Array<new () => MigrationInterface> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  return files.map((file) => {
    const match = FILE_NAME.exec(file);
    if (!match) throw new Error(`migration file ${file} must be named <13-digit timestamp>-<kebab-name>.sql`);
    const sql = readFileSync(join(dir, file), 'utf8');
    const name = className(match[1], match[2]);
    return class SqlMigration implements MigrationInterface {
      readonly name = name;
      async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(sql);
      }
      async down(): Promise<void> {
        throw new Error(`migration ${name} is forward-only; write a new migration to undo it`);
      }
    };
  });
}
