import { describe, expect, it } from 'vitest';
import { toWorkloadStatus, type SlurmJob } from './slurm-job-status.js';

const job = (fields: Partial<SlurmJob>): SlurmJob => ({ job_id: 7, name: 'gpumarket-l', job_state: 'RUNNING', ...fields });

describe('slurm job state to lease state', () => {
  it.each([
    [{ job_state: 'PENDING', state_reason: 'Resources' }, { state: 'pending', message: 'slurm PENDING: Resources' }],
    [{ job_state: 'RUNNING' }, { state: 'running' }],
    [{ job_state: 'COMPLETING' }, { state: 'running', message: 'slurm COMPLETING' }],
    [{ job_state: 'COMPLETED', exit_code: 0 }, { state: 'completed', exitCode: 0 }],
    [{ job_state: 'FAILED', exit_code: 3 << 8, state_reason: 'NonZeroExitCode' }, { state: 'failed', exitCode: 3, cause: 'workload' }],
    [{ job_state: 'CANCELLED', exit_code: 0 }, { state: 'stopped', exitCode: 0 }],
    [{ job_state: 'COMPLETED', exit_code: 0, comment: 'gpumarket:stop=preempt' }, { state: 'stopped', exitCode: 0 }],
    [{ job_state: 'FAILED', exit_code: 143 << 8, comment: 'gpumarket:stop=preempt' }, { state: 'stopped', exitCode: 143 }],
    [{ job_state: 'RUNNING', comment: 'gpumarket:stop=preempt' }, { state: 'running' }],
    [{ job_state: 'NODE_FAIL', exit_code: 9 }, { state: 'failed', cause: 'platform' }],
    [{ job_state: 'NODE_FAIL', exit_code: 0 }, { state: 'failed', cause: 'platform' }],
    [{ job_state: 'TIMEOUT', exit_code: 15 }, { state: 'failed', cause: 'platform' }],
    [{ job_state: 'OUT_OF_MEMORY', exit_code: 0 << 8 }, { state: 'failed', cause: 'workload' }],
  ] as const)('maps %o to %o', (fields, expected) => {
    expect(toWorkloadStatus(job(fields), '7')).toMatchObject(expected);
  });

  it("reports a job the controller has forgotten as failed, vanished, the platform's failure", () => {
    expect(toWorkloadStatus(undefined, '7')).toMatchObject({ state: 'failed', cause: 'platform', message: expect.stringMatching(/vanished/) });
  });

  it("reports a forgotten job as stopped when the market says it ordered a stop (any process may have sent it)", () => {
    expect(toWorkloadStatus(undefined, '7', { stopRequested: true })).toMatchObject({ state: 'stopped' });
    // A job still known to the controller is read as it is, whatever the market expects.
    expect(toWorkloadStatus(job({ job_state: 'RUNNING' }), '7', { stopRequested: true })).toEqual({ state: 'running' });
  });

  it('reports a job killed by a signal without inventing an exit code', () => {
    const status = toWorkloadStatus(job({ job_state: 'FAILED', exit_code: 9 }), '7');
    expect(status.exitCode).toBeUndefined();
    expect(status.message).toContain('signal 9');
  });
});
