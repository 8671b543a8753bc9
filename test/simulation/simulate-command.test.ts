import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/simulate.command.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Runs the command as a user would, with stdout captured; returns the exit code and what it printed. */
async function simulateCli(args: string[]): Promise<{ code: number; stdout: string }> {
  const writes: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return { code: await run(args), stdout: writes.join('') };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

describe('gpumarket simulate', () => {
  // The command as a user runs it: rounds clear in the core's deterministic mode, and the
  // report says how many reached the runaway cap (none here).
  it('is deterministic: the command run twice with one seed writes the same report.json (all but wall-clock timings)', async () => {
    const once = async (seed: number) => {
      const out = await mkdtemp(join(tmpdir(), 'gpumarket-sim-'));
      const { code } = await simulateCli([
        '--scenario',
        'five-tenants',
        '--hours',
        '1',
        '--seed',
        String(seed),
        '--out',
        out,
        '--capacity-steps',
        '2',
      ]);
      expect(code).toBe(0);
      const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
      expect(report.clearing.roundsAtTimeLimit.count).toBe(0);
      expect(report.clearing.probeRoundsAtTimeLimit).toBe(0);
      const { timings, baselines, ...rest } = report;
      expect(timings.total).toBeGreaterThan(0);
      return { ...rest, baselines: baselines.map(({ solveMs, ...b }: { solveMs: unknown }) => b) };
    };
    const a = await once(11);
    expect(a.demand.jobs).toBeGreaterThan(50);
    expect(a.baselines.map((b: { capacityProbes: unknown[] }) => b.capacityProbes.length).slice(1)).not.toEqual([
      0, 0, 0,
    ]);
    expect(await once(11)).toEqual(a);
    expect((await once(12)).demand).not.toEqual(a.demand);
  });

  it('writes report.json, a self-contained report.html and a summary table', async () => {
    const out = await mkdtemp(join(tmpdir(), 'gpumarket-sim-'));
    const { code, stdout } = await simulateCli([
      '--scenario',
      'five-tenants',
      '--hours',
      '1',
      '--seed',
      '3',
      '--out',
      out,
      '--capacity-steps',
      '0',
      '--time-limit-ms',
      '2000',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.scenario).toMatchObject({ name: 'five-tenants', seed: 3, hours: 1, periodSeconds: 60, rounds: 60 });
    expect(report.baselines.map((b: { baseline: string }) => b.baseline)).toEqual([
      'dedicated',
      'fifo',
      'priority',
      'market',
    ]);
    // The books balance to the micro-unit: charges + uplift = payouts + fees, for every baseline.
    const micros = (x: string) => BigInt(x.replace('.', ''));
    for (const b of report.baselines) {
      expect(b.reconciliation.balanced).toBe(true);
      expect(micros(b.charges) + micros(b.uplift)).toBe(micros(b.payouts) + micros(b.fees));
    }
    const [dedicated, fifo, priority, market] = report.baselines;
    // Only the market has node prices, uplift and paradoxical rejections.
    expect([dedicated.uplift, fifo.uplift, priority.uplift]).toEqual(['0.000000', '0.000000', '0.000000']);
    expect([dedicated.paradoxicalRejections, fifo.paradoxicalRejections, priority.paradoxicalRejections]).toEqual([
      null,
      null,
      null,
    ]);
    expect(market.paradoxicalRejections.count).toBeLessThanOrEqual(market.paradoxicalRejections.losers);
    expect(market.upliftShareOfCharges).toBeGreaterThanOrEqual(0);
    expect(report.clearing.unitPriceMismatches).toBe(0);
    // The price series is the pool index; each pool's summary says what its figures mean.
    expect(Object.keys(report.series.prices)).toEqual(report.prices.pools.map((p: { pool: string }) => p.pool));
    expect(Object.keys(report.prices.definitions)).toEqual(
      expect.arrayContaining(['poolIndex', 'vwap', 'uplift', 'reconciliation', 'paradoxicalRejections']),
    );
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg/g)).toHaveLength(5);
    for (const title of [
      'Clearing price per pool: the pool index',
      'VWAP of unit prices paid',
      'GPU utilisation',
      'Queue length',
      'Spend per tenant',
    ])
      expect(html).toContain(title);
    expect(html).toContain('charges + uplift = payouts + fees');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(stdout).toMatch(/GPU utilisation/);
    expect(stdout).toMatch(/p95 wait/);
    expect(stdout).toMatch(/reproducibility: no clearing round reached its time limit/);
    expect(stdout).toMatch(/uplift \$ \(paid by the market\)/);
    expect(stdout).toMatch(/books balance: charges \+ uplift [\d.]+ = payouts \+ fees [\d.]+/);
    expect(stdout).toMatch(
      /Paradoxically rejected \(lost though GPUs were priced below their limit\): \d+ of \d+ losing bid-rounds/,
    );
    expect(html).toMatch(/GPU-hours run and mean price paid by UTC hour/);
  });

  it('runs the documented default scenario (five-tenants) when --scenario is omitted, and opens report.html with the verdict', async () => {
    const out = await mkdtemp(join(tmpdir(), 'gpumarket-sim-'));
    const { code, stdout } = await simulateCli(['--hours', '1', '--out', out, '--capacity-steps', '0']);
    expect(code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.scenario.name).toBe('five-tenants');
    expect(report.verdict.map((v: { target: string }) => v.target)).toEqual(
      expect.arrayContaining(['<= 80% of dedicated', '>= 1.20x', '>= 5x']),
    );
    // Each shared baseline on the scenario's fleet, with the money to the micro-unit in report.json.
    expect(report.equalFleet[0].baselines.map((b: { baseline: string }) => b.baseline)).toEqual([
      'fifo',
      'priority',
      'market',
    ]);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html.indexOf('<h2>Verdict</h2>')).toBeLessThan(html.indexOf('Every shared baseline on the same fleets'));
    expect(html).toMatch(/time \(UTC\)/);
    expect(stdout).toMatch(/verdict:/);
  });

  it('replays a pods file and a nodes file named relative to the working directory', async () => {
    const out = await mkdtemp(join(tmpdir(), 'gpumarket-sim-'));
    const dir = relative(process.cwd(), join(here, 'fixtures', 'mini-trace'));
    const { code } = await simulateCli([
      '--pods-file',
      join(dir, 'pods-mini.csv'),
      '--nodes-file',
      join(dir, 'nodes.csv'),
      '--out',
      out,
      '--capacity-steps',
      '0',
      '--hours',
      '3',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.scenario.name).toBe('alibaba-gpu-2023');
    expect(report.fleet.gpus).toBe(10); // node-a (2 T4) and node-b (8 V100M32); the CPU node is left out
  });

  it('names the missing columns of a pods file it cannot replay, and a pods file that does not exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpumarket-sim-'));
    const pods = join(dir, 'pods.csv');
    await writeFile(pods, 'name,num_gpu\np,1\n');
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await run(['--pods-file', pods, '--nodes-file', join(here, 'fixtures', 'mini-trace', 'nodes.csv')])).toBe(
        2,
      );
      expect(await run(['--pods-file', join(dir, 'nope.csv')])).toBe(2);
      expect(await run(['--scenario', 'diurnal', '--pods-file', pods])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    const text = errors.join('');
    expect(text).toContain(
      'missing column(s) gpu_milli, gpu_spec, qos, pod_phase, creation_time, deletion_time, scheduled_time',
    );
    expect(text).toContain('nope.csv');
    expect(text).toMatch(/--pods-file and --nodes-file replay a trace/);
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
