import { describe, expect, it } from 'vitest';
import { toWorkloadStatus } from './slurm-job-status.js';
import type { SlurmJob } from './slurm-json.js';

const job = (fields: Partial<SlurmJob>): SlurmJob => ({
  jobId: '7',
  name: 'gpumarket-l',
  states: ['RUNNING'],
  exitTrusted: true,
  source: 'squeue',
  ...fields,
});

describe('slurm job state to lease state', () => {
  it.each([
    [
      { states: ['PENDING'], reason: 'Resources' },
      { state: 'pending', message: 'slurm PENDING: Resources', waitingReason: 'Resources' },
    ],
    [
      { states: ['PENDING', 'REQUEUED'], reason: 'Priority' },
      { state: 'pending', waitingReason: 'Priority' },
    ],
    [{ states: ['REQUEUED'] }, { state: 'pending' }],
    [{ states: ['RUNNING'] }, { state: 'running' }],
    [{ states: ['COMPLETING'] }, { state: 'running', message: 'slurm COMPLETING' }],
    [{ states: ['CANCELLED', 'COMPLETING'] }, { state: 'running' }],
    [
      { states: ['COMPLETED'], exitCode: 0 },
      { state: 'completed', exitCode: 0 },
    ],
    [
      { states: ['FAILED'], exitCode: 3, reason: 'NonZeroExitCode' },
      { state: 'failed', exitCode: 3, cause: 'workload' },
    ],
    [
      { states: ['FAILED'], exitCode: 0, exitTrusted: false, reason: 'NonZeroExitCode' },
      { state: 'failed', cause: 'workload' },
    ],
    [
      { states: ['CANCELLED'], exitCode: 0 },
      { state: 'stopped', exitCode: 0 },
    ],
    [
      { states: ['COMPLETED'], exitCode: 0, comment: 'gpumarket:stop=preempt' },
      { state: 'stopped', exitCode: 0 },
    ],
    [
      { states: ['FAILED'], exitCode: 143, comment: 'gpumarket:stop=preempt' },
      { state: 'stopped', exitCode: 143 },
    ],
    [{ states: ['RUNNING'], comment: 'gpumarket:stop=preempt' }, { state: 'running' }],
    [
      { states: ['NODE_FAIL'], signal: 9 },
      { state: 'failed', cause: 'platform' },
    ],
    [
      { states: ['NODE_FAIL'], exitCode: 0 },
      { state: 'failed', cause: 'platform' },
    ],
    [
      { states: ['TIMEOUT'], signal: 15 },
      { state: 'failed', cause: 'platform' },
    ],
    [
      { states: ['FAILED', 'LAUNCH_FAILED'], exitCode: 1 },
      { state: 'failed', cause: 'platform' },
    ],
    [
      { states: ['OUT_OF_MEMORY'], exitCode: 0 },
      { state: 'failed', cause: 'workload' },
    ],
  ] as const)('maps %o to %o', (fields, expected) => {
    expect(toWorkloadStatus(job(fields as Partial<SlurmJob>), '7')).toMatchObject(expected);
  });

  it("reports a job neither the controller nor accounting knows as failed, vanished, the platform's failure", () => {
    expect(toWorkloadStatus(undefined, '7')).toMatchObject({
      state: 'failed',
      cause: 'platform',
      message: expect.stringMatching(/vanished/),
    });
  });

  it('reports a forgotten job as stopped when the market says it ordered a stop (any process may have sent it)', () => {
    expect(toWorkloadStatus(undefined, '7', { stopRequested: true })).toMatchObject({ state: 'stopped' });
    // A job still known to the controller is read as it is, whatever the market expects.
    expect(toWorkloadStatus(job({ states: ['RUNNING'] }), '7', { stopRequested: true })).toEqual({ state: 'running' });
  });

  it('reports a job killed by a signal without inventing an exit code', () => {
    const status = toWorkloadStatus(job({ states: ['FAILED'], signal: 9 }), '7');
    expect(status.exitCode).toBeUndefined();
    expect(status.message).toContain('signal 9');
  });

  it('says a finished job was read from accounting', () => {
    expect(toWorkloadStatus(job({ states: ['CANCELLED'], source: 'sacct' }), '7').message).toMatch(/accounting/);
  });
});
