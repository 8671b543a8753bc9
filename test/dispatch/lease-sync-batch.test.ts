import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

/**
 * Lease sync asks a provider whose adapter answers many leases at once (Slurm) once per sync,
 * not once per lease: stand-in sbatch / squeue / sacct programs keep the jobs in a file, print
 * Slurm 24.05-style JSON and log every call.
 */
const FAKE = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const dir = path.dirname(process.argv[1]);
const tool = path.basename(process.argv[1]);
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, 'calls.log'), tool + ' ' + args.join(' ') + '\n');
// One file per job, created exclusively: sbatch runs concurrently (orders dispatch in parallel).
const jobsDir = path.join(dir, 'jobs');
fs.mkdirSync(jobsDir, { recursive: true });
// A file another sbatch is still writing is a job not submitted yet.
const jobs = fs.readdirSync(jobsDir).flatMap((f) => {
  try {
    return [JSON.parse(fs.readFileSync(path.join(jobsDir, f), 'utf8'))];
  } catch {
    return [];
  }
});
if (tool === 'sbatch') {
  const name = args.find((a) => a.startsWith('--job-name=')).slice('--job-name='.length);
  for (let id = 500; ; id++) {
    try {
      fs.writeFileSync(path.join(jobsDir, id + '.json'), JSON.stringify({ job_id: id, name, job_state: ['RUNNING'], nodes: 'sync-1', gres_detail: [] }), { flag: 'wx' });
      process.stdout.write(id + '\n');
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
  }
} else if (tool === 'squeue') {
  const named = args.find((a) => a.startsWith('--name='));
  const listed = named ? jobs.filter((j) => j.name === named.slice('--name='.length)) : jobs;
  process.stdout.write(JSON.stringify({ jobs: listed }));
} else {
  process.stdout.write(JSON.stringify({ jobs: [] }));
}
`;

describe('lease sync with a batch-answering adapter', () => {
  let t: TestApp;
  let bin: string;
  beforeAll(async () => {
    bin = mkdtempSync(join(tmpdir(), 'gpumarket-sync-'));
    for (const tool of ['sbatch', 'squeue', 'sacct', 'scontrol', 'scancel']) {
      writeFileSync(join(bin, tool), FAKE);
      chmodSync(join(bin, tool), 0o755);
    }
    writeFileSync(join(bin, 'calls.log'), '');
    t = await createTestApp({ SLURM_BIN_DIR: bin, SLURM_WORK_DIR: join(bin, 'work') });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(bin, { recursive: true, force: true });
  });

  it('reads every lease of the provider with one squeue --jobs list and starts them all', async () => {
    const slurm = await createProvider(t, 'hpc', 'slurm');
    const tenant = await createTenant(t);
    await putNodes(t, slurm.apiKey, [node('sync-1', { region: 'sync', gpus: 8 })]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await t
        .http()
        .post('/v1/bids')
        .set(auth(tenant.apiKey))
        .send(bidBody({ regions: ['sync'], gpus: 2, contiguity: 'node', workload: { command: ['sleep', '600'] } }));
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      ids.push(response.body.id);
    }
    await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2037, 0, 1)) });
    const placed = async () =>
      (
        await t.dataSource.query(
          `SELECT count(*)::int AS n FROM orders WHERE type = 'place' AND state = 'done' AND handle IS NOT NULL`,
        )
      )[0].n as number;
    await until('three placed jobs', async () => (await placed()) === 3);

    writeFileSync(join(bin, 'calls.log'), '');
    await t.app.get(LeaseSyncService).syncAll();
    // This sync asks once for all three jobs. The service's own periodic sync may run beside it
    // (one more query, listing the jobs placed when it read the leases); asked lease by lease,
    // this sync alone would make three.
    const squeues = readFileSync(join(bin, 'calls.log'), 'utf8')
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('squeue') && line.includes('--jobs='));
    expect(squeues.some((line) => /^squeue --json --states=all --jobs=\d+,\d+,\d+$/.test(line))).toBe(true);
    expect(squeues.length).toBeLessThanOrEqual(2);
    const states = await t.dataSource.query(`SELECT state FROM leases WHERE bid_id = ANY($1::uuid[])`, [ids]);
    expect(states.map((r: { state: string }) => r.state)).toEqual(['running', 'running', 'running']);
  });
});
