import type { StatusContext, WorkloadStatus } from '../provider-adapter.js';

/** The fields of one job in `squeue --json` (Slurm 22.05, openapi v0.0.38) that the adapter reads. */
export interface SlurmJob {
  readonly job_id: number;
  readonly name: string;
  readonly job_state: string;
  readonly state_reason?: string;
  /** Raw wait status: exit code in the high byte, terminating signal in the low 7 bits. */
  readonly exit_code?: number;
  readonly comment?: string;
  readonly nodes?: string;
}

/** Written into the job's Comment before a stop, so that the controller itself remembers it. */
export const STOP_COMMENT_PREFIX = 'gpumarket:stop=';

const PENDING = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING']);
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING']);
const STOPPED = new Set(['CANCELLED', 'PREEMPTED', 'REVOKED']);

export function isFinal(job: SlurmJob): boolean {
  return !PENDING.has(job.job_state) && !RUNNING.has(job.job_state);
}

export function decodeExitStatus(raw: number | undefined): { exitCode?: number; signal?: number } {
  if (raw === undefined) return {};
  const signal = raw & 0x7f;
  return signal !== 0 ? { signal } : { exitCode: (raw >> 8) & 0xff };
}

/** Ends that are the cluster's doing, not the job's: the bid is reopened, not failed. */
const PLATFORM_FAILURES = new Set(['NODE_FAIL', 'BOOT_FAIL', 'DEADLINE', 'TIMEOUT']);

/**
 * Maps a controller record (or its absence) onto the workload states the market understands. A
 * job slurmctld no longer knows (purged after MinJobAge) was stopped by the market when the
 * market says a stop of it is due or done (`context.stopRequested`), else it was lost.
 */
export function toWorkloadStatus(job: SlurmJob | undefined, jobId: string, context: StatusContext = {}): WorkloadStatus {
  if (!job) {
    return context.stopRequested
      ? { state: 'stopped', message: `job ${jobId} is gone after the market's stop (purged after MinJobAge)` }
      : {
          state: 'failed',
          cause: 'platform',
          message: `job ${jobId} vanished: slurmctld no longer knows it (purged after MinJobAge or controller state lost)`,
        };
  }
  const state = job.job_state;
  const reason = job.state_reason && job.state_reason !== 'None' ? job.state_reason : undefined;
  if (PENDING.has(state)) return { state: 'pending', message: `slurm ${state}${reason ? `: ${reason}` : ''}` };
  if (RUNNING.has(state)) {
    return state === 'RUNNING' ? { state: 'running' } : { state: 'running', message: `slurm ${state}` };
  }
  const { exitCode, signal } = decodeExitStatus(job.exit_code);
  const withCode = exitCode !== undefined ? { exitCode } : {};
  const stopRequested = job.comment?.startsWith(STOP_COMMENT_PREFIX);
  if (stopRequested || STOPPED.has(state)) {
    return { state: 'stopped', ...withCode, message: `slurm ${state}${stopRequested ? ` after ${job.comment}` : ''}` };
  }
  if (state === 'COMPLETED' && (exitCode ?? 0) === 0) return { state: 'completed', exitCode: 0 };
  return {
    state: 'failed',
    ...withCode,
    cause: PLATFORM_FAILURES.has(state) || exitCode === undefined ? 'platform' : 'workload',
    message: `slurm ${state}${reason ? `: ${reason}` : ''}${signal ? ` (signal ${signal})` : ''}`,
  };
}
