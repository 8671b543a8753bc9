import { SLURM_SETTING_RULES } from '../../src/modules/dispatch/adapters/slurm/slurm-settings.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTable, describeConfig, staleMeanings, withConfigTable } from '../../src/platform/config/config-docs.js';
import { configVariables, loadConfig } from '../../src/platform/config/config.js';

const ROOT = join(import.meta.dirname, '../..');

/**
 * The configuration has one list of variables, the code that reads them; `serve --help` and the
 * table in docs/operations.md are generated from it, so they cannot drift from what is read.
 */
describe('configuration variables', () => {
  it('meets every variable that config.ts reads, including those of optional sections', () => {
    const source = readFileSync(join(ROOT, 'src/platform/config/config.ts'), 'utf8');
    // Variables read by name in config.ts, and the Slurm submission settings it reads from their own list.
    const named = [
      ...[...source.matchAll(/read\.\w+\(\s*'([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!),
      ...Object.keys(SLURM_SETTING_RULES),
    ];
    expect(named.length).toBeGreaterThanOrEqual(40);
    expect(
      configVariables()
        .map((v) => v.name)
        .sort(),
    ).toEqual([...new Set(named)].sort());
  });

  it('gives every variable a meaning, and no meaning outlives its variable', () => {
    expect(
      describeConfig()
        .filter((v) => !v.meaning)
        .map((v) => v.name),
    ).toEqual([]);
    expect(staleMeanings()).toEqual([]);
  });

  it('shows the defaults the service uses', () => {
    const config = loadConfig({}, '/srv');
    const byName = new Map(configVariables().map((v) => [v.name, v.default]));
    expect(byName.get('PORT')).toBe(String(config.port));
    expect(byName.get('ROUND_PERIOD_SECONDS')).toBe(String(config.roundPeriodSeconds));
    expect(byName.get('PREEMPTION_PENALTY')).toBe(config.preemptionPenalty);
    expect(byName.get('WEBHOOK_RETRY_MAX_MS')).toBe(String(config.webhooks.retryMaxMs));
    expect(byName.get('DATABASE_URL')).toBe('unset');
  });

  it('docs/operations.md holds exactly the generated table (npm run docs:config rewrites it)', () => {
    const document = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
    expect(withConfigTable(document) === document, 'docs/operations.md is out of date: run npm run docs:config').toBe(
      true,
    );
    for (const variable of configVariables()) expect(document).toContain(`| \`${variable.name}\` |`);
    expect(
      configTable()
        .split('\n')
        .filter((l) => l.startsWith('| `')),
    ).toHaveLength(configVariables().length);
  });
});
