import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/simulate.command.js';

const slice = fileURLToPath(new URL('./fixtures/azure-conv-slice', import.meta.url));

async function simulateCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await run(args), stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

describe('gpumarket simulate --scenario services', () => {
  it('replays a slice of the Azure trace under the three policies and writes the table and report.json', async () => {
    const out = await mkdtemp(join(tmpdir(), 'gpumarket-services-'));
    const started = Date.now();
    const { code, stdout } = await simulateCli([
      '--scenario',
      'services',
      '--trace-dir',
      slice,
      '--time-scale',
      '2',
      '--window-seconds',
      '60',
      '--gap-seconds',
      '1800',
      '--max-replicas',
      '4',
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stdout).toMatch(/\| measure +\| scale-to-zero +\| always-on +\| fixed-minimum +\|/);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    // Two windows of 60 trace seconds, each 120 s replayed and followed by 1800 s of silence.
    expect(report.demand).toMatchObject({ windows: 2, requests: 456 });
    expect(report.demand.replayHours).toBeCloseTo((2 * (120 + 1800)) / 3600, 3);
    const by = Object.fromEntries(report.policies.map((p: { policy: string }) => [p.policy, p]));
    expect(by['always-on'].metrics.gpuHoursPaid).toBeCloseTo((4 * 2 * (120 + 1800)) / 3600, 3);
    expect(by['scale-to-zero'].metrics.gpuHoursPaid).toBeLessThan(by['fixed-minimum'].metrics.gpuHoursPaid);
    expect(by['scale-to-zero'].metrics.requests).toBe(report.demand.requests);
    expect(report.definitions.flaps).toMatch(/2 x scaleDownDelaySeconds/);
  });

  it.each([
    [['--time-scale', '0'], /--time-scale must be positive/],
    [['--max-replicas', '1.5'], /--max-replicas must be a non-negative integer/],
    [['--max-price', '1.23456'], /--max-price/],
    [['--hours', '2'], /--hours does not apply to --scenario services/],
  ])('refuses %j with exit code 2', async (args, message) => {
    const { code, stderr } = await simulateCli(['--scenario', 'services', '--trace-dir', slice, ...args]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});
