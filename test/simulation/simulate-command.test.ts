import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/simulate.command.js';
import { clearRound } from '../../src/core/clearing/clear-round.js';
import { runSimulation } from '../../src/core/simulation/run-simulation.js';
import { generateWorkload, validateScenario } from '../../src/core/simulation/scenario-generator.js';

const scenario = async (name: string) => validateScenario(JSON.parse(await readFile(new URL(`../../scenarios/${name}.json`, import.meta.url), 'utf8')));
const deterministic = { solver: 'auto' as const, timeLimitMs: 5000 };

describe('gpumarket simulate', () => {
  it('is deterministic: the same seed gives the same report (all but wall-clock timings)', async () => {
    const spec = await scenario('five-tenants');
    const once = async () => {
      const { report } = await runSimulation(generateWorkload(spec, 11, 2), { seed: 11, clear: clearRound, clearOptions: deterministic, capacitySteps: 1 });
      const { timings, baselines, ...rest } = report;
      expect(timings.total).toBeGreaterThan(0);
      return { ...rest, baselines: baselines.map(({ solveMs, ...b }) => b) };
    };
    const [a, b] = [await once(), await once()];
    expect(b).toEqual(a);
    expect(a.demand.jobs).toBeGreaterThan(50);
    const { report: other } = await runSimulation(generateWorkload(spec, 12, 2), { seed: 12, clear: clearRound, clearOptions: deterministic, capacitySteps: 0 });
    expect(other.demand).not.toEqual(a.demand);
  });

  it('writes report.json, a self-contained report.html and a summary table', async () => {
    const out = await mkdtemp(join(tmpdir(), 'gpumarket-sim-'));
    const writes: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await run(['--scenario', 'five-tenants', '--hours', '1', '--seed', '3', '--out', out, '--capacity-steps', '0', '--time-limit-ms', '2000']);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.scenario).toMatchObject({ name: 'five-tenants', seed: 3, hours: 1, periodSeconds: 60, rounds: 60 });
    expect(report.baselines.map((b: { baseline: string }) => b.baseline)).toEqual(['dedicated', 'fifo', 'market']);
    for (const b of report.baselines) expect(Number(b.charges)).toBeCloseTo(Number(b.fees) + Number(b.payouts), 6);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg/g)).toHaveLength(4);
    for (const title of ['Clearing price per pool', 'GPU utilisation', 'Queue length', 'Spend per tenant']) expect(html).toContain(title);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const table = writes.join('');
    expect(table).toMatch(/GPU utilisation/);
    expect(table).toMatch(/p95 wait/);
  });

  it('refuses an unknown scenario and a bad flag with exit code 2', async () => {
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await run(['--scenario', 'no-such-scenario'])).toBe(2);
      expect(await run(['--scenario', 'five-tenants', '--seed', 'abc'])).toBe(2);
      expect(await run(['--bogus'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(errors.join('')).toMatch(/no scenario "no-such-scenario"/);
    expect(errors.join('')).toMatch(/--seed must be a non-negative number/);
  });
});
