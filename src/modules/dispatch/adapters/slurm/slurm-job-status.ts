import type { StatusContext, WorkloadStatus } from '../provider-adapter.js';
import type { SlurmJob } from './slurm-json.js';

export type { SlurmJob } from './slurm-json.js';

/** Written into the job's Comment before a stop, so that the controller itself remembers it. */
export const STOP_COMMENT_PREFIX = 'gpumarket:stop=';

// Base states and flags. From 23.11 on a job's state is a base state plus flags (["PENDING",
// "REQUEUED"], ["RUNNING","COMPLETING"]); before, one word named whichever mattered most. A flag
// of waiting or of winding down outranks the base state: a REQUEUED job is waiting again, a
// COMPLETING one still holds its nodes.
const PENDING = new Set([
  'PENDING',
  'CONFIGURING',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESIZING',
  'POWER_UP_NODE',
]);
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING', 'STOPPED']);
const STOPPED = new Set(['CANCELLED', 'PREEMPTED', 'REVOKED']);
/** Ends that are the cluster's doing, not the job's: the bid is reopened, not failed. */
const PLATFORM_FAILURES = new Set(['NODE_FAIL', 'BOOT_FAIL', 'DEADLINE', 'TIMEOUT', 'LAUNCH_FAILED']);

function phase(job: SlurmJob): 'pending' | 'running' | 'final' {
  const base = job.states[0] ?? '';
  // COMPLETING after the end keeps the nodes busy, but the workload's own end is known: still running
  // until the flag clears, as the market must not resell GPUs an epilog is cleaning.
  if (job.states.some((state) => RUNNING.has(state)) && !PENDING.has(base)) return 'running';
  if (job.states.some((state) => PENDING.has(state))) return 'pending';
  return 'final';
}

export function isFinal(job: SlurmJob): boolean {
  return phase(job) === 'final';
}

export function isPending(job: SlurmJob): boolean {
  return phase(job) === 'pending';
}

function label(job: SlurmJob): string {
  return `slurm ${job.states.join('+') || 'UNKNOWN'}`;
}

/**
 * Maps a controller or accounting record (or its absence from both) onto the workload states the
 * market understands. A job neither knows any more was stopped by the market when the market says
 * a stop of it is due or done (`context.stopRequested`), else it was lost.
 */
export function toWorkloadStatus(
  job: SlurmJob | undefined,
  jobId: string,
  context: StatusContext = {},
): WorkloadStatus {
  if (!job) {
    return context.stopRequested
      ? { state: 'stopped', message: `job ${jobId} is gone after the market's stop (purged after MinJobAge)` }
      : {
          state: 'failed',
          cause: 'platform',
          message: `job ${jobId} vanished: neither slurmctld nor accounting (sacct) knows it`,
        };
  }
  const reason = job.reason;
  const from = job.source === 'sacct' ? ' (from accounting)' : '';
  switch (phase(job)) {
    case 'pending':
      return {
        state: 'pending',
        message: `${label(job)}${reason ? `: ${reason}` : ''}`,
        ...(reason ? { waitingReason: reason } : {}),
      };
    case 'running':
      return job.states.length === 1 && job.states[0] === 'RUNNING'
        ? { state: 'running' }
        : { state: 'running', message: label(job) };
    default:
      break;
  }
  const base = job.states[0] ?? '';
  const exitCode = job.exitTrusted ? job.exitCode : undefined;
  const withCode = exitCode !== undefined ? { exitCode } : {};
  const stopRequested = job.comment?.startsWith(STOP_COMMENT_PREFIX);
  if (stopRequested || STOPPED.has(base)) {
    return {
      state: 'stopped',
      ...withCode,
      message: `${label(job)}${stopRequested ? ` after ${job.comment}` : ''}${from}`,
    };
  }
  if (base === 'COMPLETED' && (exitCode ?? 0) === 0) return { state: 'completed', exitCode: 0 };
  const platform = PLATFORM_FAILURES.has(base) || job.states.includes('LAUNCH_FAILED');
  // FAILED with an exit code the release lost (22.05/23.02 sacct) is still the workload's own end
  // when Slurm says so (NonZeroExitCode).
  const workload = !platform && (exitCode !== undefined || reason === 'NonZeroExitCode' || base === 'OUT_OF_MEMORY');
  return {
    state: 'failed',
    ...withCode,
    cause: workload ? 'workload' : 'platform',
    message: `${label(job)}${reason ? `: ${reason}` : ''}${job.signal ? ` (signal ${job.signal})` : ''}${from}`,
  };
}
