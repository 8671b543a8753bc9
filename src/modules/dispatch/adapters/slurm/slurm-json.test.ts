import { describe, expect, it } from 'vitest';
import { JOB_CASES } from '../../../../../test/adapters/fixtures/slurm/cases.js';
import * as slurm2205 from '../../../../../test/adapters/fixtures/slurm/slurm-22.05.js';
import * as v39 from '../../../../../test/adapters/fixtures/slurm/v0.0.39.js';
import * as v40 from '../../../../../test/adapters/fixtures/slurm/v0.0.40.js';
import * as v41 from '../../../../../test/adapters/fixtures/slurm/v0.0.41.js';
import * as v42 from '../../../../../test/adapters/fixtures/slurm/v0.0.42.js';
import { toWorkloadStatus } from './slurm-job-status.js';
import { fromSacct, fromSqueue, parseJobsDocument, slurmNumber } from './slurm-json.js';

const VERSIONS = [
  ['22.05', slurm2205],
  ['23.02 (data_parser v0.0.39)', v39],
  ['23.11 (data_parser v0.0.40)', v40],
  ['24.05 (data_parser v0.0.41)', v41],
  ['24.11 (data_parser v0.0.42)', v42],
] as const;

describe.each(VERSIONS)('Slurm %s JSON', (_version, fixture) => {
  for (const tool of ['squeue', 'sacct'] as const) {
    const document = JSON.stringify(tool === 'squeue' ? fixture.SQUEUE : fixture.SACCT);

    it.each(JOB_CASES.map((job) => [job.name, job] as const))(
      `${tool}: reads %s to the right lease state`,
      (_name, job) => {
        const parsed = parseJobsDocument(document, tool);
        expect(parsed.error).toBeUndefined();
        const read = parsed.jobs.find((candidate) => candidate.jobId === String(job.id));
        expect(read).toMatchObject({ name: job.name, source: tool });
        const status = toWorkloadStatus(read, String(job.id));
        const lossy = tool === 'sacct' && fixture.OLD_SACCT_LOSES_EXIT_CODES && job.expectedFromOldSacct;
        const expected = lossy ? job.expectedFromOldSacct! : job.expected;
        expect(status).toMatchObject(expected);
        // A process that did not exit (pending, running, killed) has no exit code to report.
        if (job.exit.kind !== 'exited') expect(status.exitCode).toBeUndefined();
        if (job.message) expect(status.message).toMatch(job.message);
      },
    );
  }
});

describe('Slurm JSON shapes', () => {
  it('reads numbers plain or as {set, infinite, number}, unset and infinite as absent', () => {
    expect(slurmNumber(7)).toBe(7);
    expect(slurmNumber({ set: true, infinite: false, number: 7 })).toBe(7);
    expect(slurmNumber({ set: false, infinite: false, number: 0 })).toBeUndefined();
    expect(slurmNumber({ set: false, infinite: true, number: 0 })).toBeUndefined();
    expect(slurmNumber('7')).toBeUndefined();
  });

  it('reads an exit status given as a list of flags, as some builds print it', () => {
    const job = fromSacct({
      job_id: 9,
      name: 'gpumarket-x',
      state: { current: ['FAILED'], reason: 'NonZeroExitCode' },
      exit_code: {
        status: ['ERROR'],
        return_code: { set: true, infinite: false, number: 42 },
        signal: { id: { set: false, infinite: false, number: 0 }, name: '' },
      },
    });
    expect(toWorkloadStatus(job, '9')).toMatchObject({ state: 'failed', exitCode: 42, cause: 'workload' });
  });

  it('takes a job without a state reason ("None") as having none', () => {
    const job = fromSqueue({ job_id: 5, name: 'n', job_state: ['PENDING'], state_reason: 'None' });
    expect(job?.reason).toBeUndefined();
    expect(toWorkloadStatus(job, '5')).toEqual({ state: 'pending', message: 'slurm PENDING' });
  });

  it("reports the tool's own errors instead of an empty job list", () => {
    const answer = parseJobsDocument(
      JSON.stringify({
        errors: [{ error: 'Unable to contact slurm controller', error_number: 1007, description: '' }],
        jobs: [],
      }),
      'squeue',
    );
    expect(answer.error).toMatch(/Unable to contact/);
  });

  it('skips records without a job id instead of inventing one', () => {
    expect(parseJobsDocument(JSON.stringify({ jobs: [{ name: 'x' }, 'junk', null] }), 'squeue').jobs).toEqual([]);
  });
});
