import { execFile } from 'node:child_process';
import { AdapterError } from '../provider-adapter.js';

/**
 * Runs Slurm's client tools (sbatch, squeue, sacct, scontrol, scancel) without a shell and turns their
 * failures into typed adapter errors. The tools talk to slurmctld through the configuration in
 * SLURM_CONF (or the host's default), authenticated by munge as the user the market runs as.
 */
export interface SlurmCliOptions {
  /** Path of slurm.conf; when absent the tools use the host's configuration. */
  readonly slurmConf?: string;
  /** Directory holding sbatch, squeue, sacct, scontrol, scancel; default: found on PATH. */
  readonly binDir?: string;
  /** Per-command timeout; a controller that does not answer in time is a retryable error. */
  readonly timeoutMs?: number;
}

export type SlurmTool = 'sbatch' | 'squeue' | 'scontrol' | 'scancel' | 'sacct';

/** Messages meaning the controller could not answer now; the same order may succeed later. */
const RETRYABLE = [
  /Socket timed out/i,
  /Unable to contact slurm controller/i,
  /temporarily unavailable/i,
  /Slurm temporarily unable/i,
  /Zero Bytes were transmitted/i,
  /Communication connection failure/i,
  /Connection refused/i,
  /slurmctld.*busy|too many pending RPCs|Resource temporarily/i,
  /Transient/i,
];

export class SlurmCommandError extends Error {
  constructor(
    readonly tool: SlurmTool,
    readonly stderr: string,
    readonly exitCode: number | string | undefined,
  ) {
    super(`${tool} failed (${exitCode}): ${stderr.trim() || 'no message'}`);
    this.name = 'SlurmCommandError';
  }
}

export class SlurmCli {
  constructor(private readonly options: SlurmCliOptions = {}) {}

  /** Resolves with stdout; rejects with AdapterError (retryable or permanent) and the tool's message. */
  run(tool: SlurmTool, args: readonly string[], input?: string): Promise<string> {
    const file = this.options.binDir ? `${this.options.binDir}/${tool}` : tool;
    const env = { ...process.env, ...(this.options.slurmConf ? { SLURM_CONF: this.options.slurmConf } : {}) };
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        [...args],
        { env, timeout: this.options.timeoutMs ?? 30_000, maxBuffer: 256 * 1024 * 1024, killSignal: 'SIGKILL' },
        (error, stdout, stderr) => {
          if (!error) {
            resolve(stdout);
            return;
          }
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          if (failure.code === 'ENOENT') {
            reject(AdapterError.permanent(`${tool} is not installed or not on PATH`, error));
          } else if (failure.killed) {
            reject(AdapterError.retryable(`${tool} timed out waiting for slurmctld`, error));
          } else {
            const cause = new SlurmCommandError(tool, stderr, failure.code);
            const kind = RETRYABLE.some((pattern) => pattern.test(stderr)) ? 'retryable' : 'permanent';
            reject(new AdapterError(kind, cause.message, cause));
          }
        },
      );
      // A tool that exits without reading stdin (squeue, scancel) closes the pipe: EPIPE is harmless.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input ?? '');
    });
  }
}

/** Whether a failed scancel/scontrol means the job is already gone, which a stop treats as done. */
export function isJobGone(error: unknown): boolean {
  const cause = error instanceof AdapterError ? error.cause : error;
  return (
    cause instanceof SlurmCommandError &&
    /Invalid job id|already completing or completed|Job has already finished/i.test(cause.stderr)
  );
}

/**
 * Whether a failed sacct means the cluster keeps no accounting (no slurmdbd): then sacct can
 * never know a job, which is an answer ("not known"), not an outage.
 */
export function isAccountingDisabled(error: unknown): boolean {
  const cause = error instanceof AdapterError ? error.cause : error;
  return (
    cause instanceof SlurmCommandError &&
    /accounting storage is disabled|AccountingStorageType.*none/i.test(cause.stderr)
  );
}
