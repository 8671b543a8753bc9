import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkResult } from '../core/clearing/check-result.js';
import { parseSnapshot, readResult, serializeSnapshot } from '../core/clearing/snapshot-file.js';
import { bid, lease, node, snapshot } from '../core/clearing/snapshot-fixtures.js';
import { defaultSolverThreads } from '../platform/solver-pool/solver-pool.js';
import { defaultThreads, run } from './clear.command.js';

const roundFile = () =>
  serializeSnapshot(
    snapshot({
      nodes: [node('n-1'), node('n-2', { gpuModel: 'A100', reserve: '0.80' })],
      leases: [lease('l-1', { 'n-1': 2 }, '1.50')],
      bids: [bid('b-1', 4, { H100: '2.50', A100: '1.40' }, { contiguity: 'node' }), bid('b-2', 8, { H100: '2.00' })],
    }),
  );

describe('gpumarket clear', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gpumarket-clear-'));
  });

  it('writes a result file that passes the validity rules of round-files.md', async () => {
    const input = join(dir, 'snapshot.json');
    const output = join(dir, 'result.json');
    await writeFile(input, JSON.stringify(roundFile()));
    expect(await run(['--input', input, '--output', output, '--time-limit-ms', '5000'])).toBe(0);
    const written = JSON.parse(await readFile(output, 'utf8'));
    expect(written).toMatchObject({ version: 1, roundId: 'r-test', status: 'optimal' });
    expect(written.welfare).toMatch(/^-?\d+\.\d{4}$/);
    expect(written.prices.every((p: { price: string }) => /^\d+\.\d{6}$/.test(p.price))).toBe(true);
    // Rule 8's fields (round-files.md, "Prices in the result"): every node priced, every payer's unit price and uplift.
    expect(written.nodePrices.map((n: { node: string }) => n.node)).toEqual(['n-1', 'n-2']);
    expect(
      written.placements.every(
        (p: { unitPrice: string; uplift: string }) => /^\d+\.\d{6}$/.test(p.unitPrice) && /^\d+\.\d{6}$/.test(p.uplift),
      ),
    ).toBe(true);
    expect(written.keptPrices.map((k: { leaseId: string }) => k.leaseId)).toEqual(written.kept);
    expect(written.paradoxicallyRejected).toEqual([]);
    const s = parseSnapshot(roundFile());
    expect(checkResult(s, readResult(written))).toEqual([]);
  });

  it('--deterministic writes the same result file twice for the same snapshot', async () => {
    const input = join(dir, 'replay.json');
    await writeFile(input, JSON.stringify(roundFile()));
    const decisions = async (name: string) => {
      expect(await run(['--input', input, '--output', join(dir, name), '--deterministic'])).toBe(0);
      const { stats, ...rest } = JSON.parse(await readFile(join(dir, name), 'utf8'));
      expect(stats.cutShort).toBe(false);
      return rest;
    };
    expect(await decisions('second.json')).toEqual(await decisions('first.json'));
  });

  it('exits non-zero naming the offending field of a malformed snapshot', async () => {
    const bad = roundFile() as { bids: { offers: { maxPrice: string }[] }[] };
    bad.bids[1].offers[0].maxPrice = '2.00001';
    const input = join(dir, 'bad.json');
    await writeFile(input, JSON.stringify(bad));
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await run(['--input', input, '--output', join(dir, 'never.json')])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(stderr.join('')).toContain('bids[1].offers[0].maxPrice: must have at most 4 decimal places');
  });

  it('starts no pool thread by default for a round too short for the MIP phase', () => {
    expect(defaultThreads(1_000)).toBe(0);
    expect(defaultThreads(1_999)).toBe(0);
    expect(defaultThreads(2_000)).toBe(defaultSolverThreads());
    expect(defaultThreads(undefined)).toBe(defaultSolverThreads());
  });

  it('--threads takes 0 to 256 and names itself when it is anything else', async () => {
    const input = join(dir, 'threads.json');
    await writeFile(input, JSON.stringify(roundFile()));
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await run(['--input', input, '--output', join(dir, 'never.json'), '--threads', 'many'])).toBe(2);
      expect(
        await run([
          '--input',
          input,
          '--output',
          join(dir, 'threads-0.json'),
          '--threads',
          '0',
          '--time-limit-ms',
          '5000',
        ]),
      ).toBe(0);
    } finally {
      process.stderr.write = write;
    }
    expect(stderr.join('')).toContain('--threads must be an integer from 0 to 256');
  });
});
