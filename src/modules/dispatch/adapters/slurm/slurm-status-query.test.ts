import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JOB_CASES } from '../../../../../test/adapters/fixtures/slurm/cases.js';
import * as v41 from '../../../../../test/adapters/fixtures/slurm/v0.0.41.js';
import { AdapterError } from '../provider-adapter.js';
import { SlurmAdapter } from './slurm.adapter.js';

// The adapter's queries, against stand-in squeue and sacct programs that print 24.05 (data_parser
// v0.0.41) JSON and log their arguments: how many queries a sync costs, and what it asks
// accounting. The real controller (22.05, no slurmdbd) is exercised in test/adapters.
let bin: string;

function tool(name: string): void {
  const path = join(bin, name);
  writeFileSync(
    path,
    `#!/bin/sh\necho "${name} $*" >> "${bin}/calls.log"\n` +
      `if [ -f "${bin}/${name}.err" ]; then cat "${bin}/${name}.err" >&2; exit 1; fi\ncat "${bin}/${name}.json"\n`,
  );
  chmodSync(path, 0o755);
}

function answer(name: 'squeue' | 'sacct', document: { jobs: unknown[] } & object, ids: number[]): void {
  writeFileSync(
    join(bin, `${name}.json`),
    JSON.stringify({
      ...document,
      jobs: document.jobs.filter((job) => ids.includes((job as { job_id: number }).job_id)),
    }),
  );
}

const calls = () => readFileSync(join(bin, 'calls.log'), 'utf8').trim().split('\n');
const lease = (id: number) => JOB_CASES.find((job) => job.id === id)!.name.replace(/^gpumarket-/, '');

beforeEach(() => {
  bin = mkdtempSync(join(tmpdir(), 'gpumarket-fake-slurm-'));
  writeFileSync(join(bin, 'calls.log'), '');
  tool('squeue');
  tool('sacct');
});

afterEach(() => rmSync(bin, { recursive: true, force: true }));

describe('slurm status queries', () => {
  it("reads all of a provider's leases with one squeue --jobs list, and asks sacct only for the jobs squeue no longer lists", async () => {
    const squeue = v41.SQUEUE as { jobs: unknown[] };
    answer('squeue', squeue, [101, 102]);
    answer('sacct', v41.SACCT as { jobs: unknown[] }, [106, 107]);
    const adapter = new SlurmAdapter({ binDir: bin });
    const answers = await adapter.statusMany(
      [101, 102, 106, 107, 999].map((id) => ({
        leaseId: lease(id === 999 ? 101 : id) + (id === 999 ? '-lost' : ''),
        handle: String(id),
      })),
    );
    expect(calls()).toEqual([
      'squeue --json --states=all --jobs=101,102,106,107,999',
      'sacct --json --allocations --jobs=106,107,999',
    ]);
    expect(answers.get('l-run')).toEqual({ state: 'running' });
    expect(answers.get('l-res')).toMatchObject({ state: 'pending', waitingReason: 'Resources' });
    expect(answers.get('l-ok')).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(answers.get('l-err')).toMatchObject({ state: 'failed', exitCode: 3, cause: 'workload' });
    expect(answers.get('l-run-lost')).toMatchObject({
      state: 'failed',
      cause: 'platform',
      message: expect.stringMatching(/vanished/),
    });
  });

  it('does not call sacct when squeue lists every job', async () => {
    answer('squeue', v41.SQUEUE as { jobs: unknown[] }, [101]);
    await new SlurmAdapter({ binDir: bin }).status('l-run', '101');
    expect(calls()).toEqual(['squeue --json --states=all --jobs=101']);
  });

  it('calls a job vanished when the cluster keeps no accounting and squeue has forgotten it', async () => {
    answer('squeue', v41.SQUEUE as { jobs: unknown[] }, []);
    writeFileSync(join(bin, 'sacct.err'), 'Slurm accounting storage is disabled\n');
    expect(await new SlurmAdapter({ binDir: bin }).status('l-ok', '106')).toMatchObject({
      state: 'failed',
      message: expect.stringMatching(/vanished/),
    });
  });

  it('never calls a job vanished while accounting cannot be asked: the lease waits for the next sync', async () => {
    answer('squeue', v41.SQUEUE as { jobs: unknown[] }, [101]);
    writeFileSync(join(bin, 'sacct.err'), 'sacct: error: slurmdbd: Connection refused\n');
    const answers = await new SlurmAdapter({ binDir: bin }).statusMany([
      { leaseId: 'l-run', handle: '101' },
      { leaseId: 'l-ok', handle: '106' },
    ]);
    expect(answers.get('l-run')).toEqual({ state: 'running' });
    const error = answers.get('l-ok');
    expect(error).toBeInstanceOf(AdapterError);
    expect((error as AdapterError).kind).toBe('retryable');
  });

  it('reads a finished job of the lease from accounting before submitting it again', async () => {
    answer('squeue', v41.SQUEUE as { jobs: unknown[] }, []);
    answer('sacct', v41.SACCT as { jobs: unknown[] }, [106]);
    const adapter = new SlurmAdapter({ binDir: bin, workDir: bin });
    const order = {
      leaseId: 'l-ok',
      bidId: 'b',
      tenantId: 't',
      gpuModel: 'H100-SXM-80GB',
      nodes: [{ nodeId: 'n', externalId: 'gpu-node-1', gpus: 8 }],
      workload: { command: ['true'] },
      runtimeSeconds: 60,
    };
    expect(await adapter.place(order)).toEqual({ handle: '106' });
    expect(calls().some((call) => call.startsWith('sbatch'))).toBe(false);
  });

  it('takes squeue\'s "Invalid job id" in its JSON errors as "not listed" and asks accounting', async () => {
    writeFileSync(
      join(bin, 'squeue.json'),
      JSON.stringify({
        jobs: [],
        errors: [
          {
            description: 'Invalid job id specified',
            error_number: 2017,
            error: 'Invalid job id specified',
            source: 'slurm_load_job()',
          },
        ],
      }),
    );
    answer('sacct', v41.SACCT as { jobs: unknown[] }, [107]);
    expect(await new SlurmAdapter({ binDir: bin }).status('l-err', '107')).toMatchObject({
      state: 'failed',
      exitCode: 3,
      message: expect.stringMatching(/accounting/),
    });
  });
});
