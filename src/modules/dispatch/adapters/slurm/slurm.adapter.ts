import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdapterError,
  type PlaceOrder,
  type ProviderAdapter,
  type StatusContext,
  type StatusQuery,
  type StopOrder,
  type WorkloadStatus,
} from '../provider-adapter.js';
import { foreignGpuUse } from './slurm-capacity.js';
import { SlurmCli, isAccountingDisabled, isJobGone, type SlurmCliOptions } from './slurm-cli.js';
import { STOP_COMMENT_PREFIX, isFinal, isPending, toWorkloadStatus } from './slurm-job-status.js';
import { parseJobsDocument, type SlurmJob } from './slurm-json.js';
import {
  buildSubmission,
  jobNameFor,
  leaseDirFor,
  settingsProblems,
  type SlurmSubmissionOptions,
} from './slurm-submission.js';

/**
 * The `slurm` adapter: one batch job per lease, named after the lease, on the granted nodes with
 * `--gres=gpu:<type>:<n>`, in a work directory of its own. Preemption signals the batch step with
 * SIGTERM and cancels the job when the notice ends. Status comes from the controller (`squeue
 * --json --jobs=...`, one query for any number of leases) and, for jobs the controller has
 * purged (MinJobAge), from accounting (`sacct --json`), so it survives a restart of the market;
 * the only in-process state is the timer of a notice in progress (the market's own terminate
 * order at the notice's end stops the job too, should that timer be lost).
 */
export interface SlurmAdapterOptions extends SlurmCliOptions, SlurmSubmissionOptions {
  /** How far back `place` looks in accounting for an earlier submission of the lease; default 7 days. */
  readonly accountingLookbackSeconds?: number;
}

export const DEFAULT_WORK_DIR = join(tmpdir(), 'gpumarket-slurm');

export class SlurmAdapter implements ProviderAdapter {
  readonly kind = 'slurm' as const;
  private readonly cli: SlurmCli;
  private readonly placing = new Map<string, Promise<{ handle: string }>>();
  private readonly hardStops = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: SlurmAdapterOptions = {}) {
    // Refused at construction, so that a misconfigured provider fails its first order loudly.
    const problems = settingsProblems(options);
    if (problems.length > 0) throw AdapterError.permanent(`slurm adapter settings: ${problems.join('; ')}`);
    this.cli = new SlurmCli(options);
  }

  place(order: PlaceOrder): Promise<{ handle: string }> {
    // Two concurrent place calls for one lease in this process share one submission.
    const inFlight = this.placing.get(order.leaseId);
    if (inFlight) return inFlight;
    const attempt = this.submitOnce(order).finally(() => this.placing.delete(order.leaseId));
    this.placing.set(order.leaseId, attempt);
    return attempt;
  }

  async preempt(order: StopOrder): Promise<void> {
    await this.stop(order, 'preempt');
  }

  async terminate(order: StopOrder): Promise<void> {
    await this.stop(order, 'terminate');
  }

  async status(leaseId: string, handle: string, context: StatusContext = {}): Promise<WorkloadStatus> {
    const answer = (await this.statusMany([{ leaseId, handle, context }])).get(leaseId)!;
    if (answer instanceof AdapterError) throw answer;
    return answer;
  }

  /**
   * One `squeue --json --jobs=a,b,...` for all the leases asked about; the jobs it no longer lists
   * are asked of accounting with one `sacct --json --jobs=...`; only a job neither knows reads as
   * vanished. When accounting cannot be reached, those leases get a retryable error (never
   * "vanished"): the job may well have finished, and reading it as lost would run it twice.
   */
  async statusMany(queries: readonly StatusQuery[]): Promise<Map<string, WorkloadStatus | AdapterError>> {
    const answers = new Map<string, WorkloadStatus | AdapterError>();
    const ids = new Set<string>();
    for (const query of queries) {
      if (/^\d+$/.test(query.handle)) ids.add(query.handle);
      else answers.set(query.leaseId, AdapterError.permanent(`${JSON.stringify(query.handle)} is not a slurm job id`));
    }
    if (ids.size === 0) return answers;
    const live = await this.squeue([...ids]);
    const missing = [...ids].filter((id) => !live.has(id));
    let accounted = new Map<string, SlurmJob>();
    let accountingError: AdapterError | undefined;
    if (missing.length > 0) {
      try {
        accounted = await this.sacct(missing);
      } catch (error) {
        accountingError = error instanceof AdapterError ? error : AdapterError.retryable(String(error), error);
      }
    }
    for (const query of queries) {
      if (answers.has(query.leaseId)) continue;
      const job = live.get(query.handle) ?? accounted.get(query.handle);
      if (!job && accountingError) {
        answers.set(
          query.leaseId,
          AdapterError.retryable(
            `job ${query.handle} is not in squeue and sacct failed: ${accountingError.message}`,
            accountingError,
          ),
        );
      } else if (job && job.name !== jobNameFor(query.leaseId)) {
        answers.set(query.leaseId, {
          state: 'failed',
          message: `job ${query.handle} belongs to ${job.name}, not lease ${query.leaseId}`,
        });
      } else {
        answers.set(query.leaseId, toWorkloadStatus(job, query.handle, query.context));
      }
    }
    return answers;
  }

  /**
   * GPUs the provider's own (non-market) running jobs hold, by node name: the market reports
   * them unavailable on those nodes while they are held (see foreignGpuUse).
   */
  async foreignGpuUse(): Promise<Map<string, number>> {
    return foreignGpuUse(await this.query('squeue', ['--json', '--states=RUNNING']));
  }

  /** Cancels pending hard-stop timers (the jobs keep their state in slurmctld). */
  close(): void {
    for (const timer of this.hardStops.values()) clearTimeout(timer);
    this.hardStops.clear();
  }

  private async submitOnce(order: PlaceOrder): Promise<{ handle: string }> {
    // A job named after the lease already exists when an earlier attempt (or another replica)
    // submitted it, even if that attempt's answer was lost, or it ran and was purged meanwhile.
    const existing = await this.findJobOfLease(order.leaseId);
    if (existing) return { handle: existing.jobId };
    const leaseDir = leaseDirFor(this.options.workDir ?? DEFAULT_WORK_DIR, order.leaseId);
    try {
      // The job writes its output there; 0700: other tenants' jobs run as the same user only if
      // the cluster maps them so, and the directory is the lease's alone.
      await mkdir(leaseDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw AdapterError.permanent(
        `cannot create the lease's work directory ${leaseDir}: ${(error as Error).message}`,
        error,
      );
    }
    const submission = buildSubmission(order, this.options, leaseDir);
    const stdout = await this.cli.run('sbatch', submission.args, submission.script);
    const jobId = stdout.trim().split(';')[0];
    if (!jobId || !/^\d+$/.test(jobId)) throw AdapterError.retryable(`sbatch answered ${JSON.stringify(stdout)}`);
    return { handle: jobId };
  }

  private async stop(order: StopOrder, reason: 'preempt' | 'terminate'): Promise<void> {
    if (!/^\d+$/.test(order.handle))
      throw AdapterError.permanent(`${JSON.stringify(order.handle)} is not a slurm job id`);
    const job = (await this.squeue([order.handle])).get(order.handle);
    if (!job || isFinal(job)) return;
    if (job.name !== jobNameFor(order.leaseId)) {
      throw AdapterError.permanent(`job ${order.handle} belongs to ${job.name}, not lease ${order.leaseId}`);
    }
    try {
      // Recorded in the controller so that the job's end reads as stopped after a market restart.
      await this.cli.run('scontrol', ['update', `JobId=${order.handle}`, `Comment=${STOP_COMMENT_PREFIX}${reason}`]);
      if (isPending(job) || order.graceSeconds <= 0) {
        await this.hardStop(order.handle);
      } else {
        // --batch: a plain `scancel --signal` does not reach the batch script's process.
        await this.cli.run('scancel', ['--signal=TERM', '--batch', order.handle]);
        this.scheduleHardStop(order.handle, order.graceSeconds);
      }
    } catch (error) {
      if (!isJobGone(error)) throw error;
    }
  }

  private scheduleHardStop(jobId: string, graceSeconds: number): void {
    if (this.hardStops.has(jobId)) return;
    const timer = setTimeout(() => {
      this.hardStops.delete(jobId);
      this.hardStop(jobId).catch(() => {
        // The market's next status sweep sees the job still running and orders terminate again.
      });
    }, graceSeconds * 1000);
    timer.unref();
    this.hardStops.set(jobId, timer);
  }

  /** SIGKILL every step now (scancel alone would wait KillWait), then cancel the allocation. */
  private async hardStop(jobId: string): Promise<void> {
    for (const args of [['--signal=KILL', '--full', jobId], [jobId]]) {
      try {
        await this.cli.run('scancel', args);
      } catch (error) {
        if (!isJobGone(error)) throw error;
      }
    }
  }

  private async findJobOfLease(leaseId: string): Promise<SlurmJob | undefined> {
    const name = jobNameFor(leaseId);
    const live = await this.query('squeue', ['--json', '--states=all', `--name=${name}`]);
    const found = live.find((job) => job.name === name);
    if (found) return found;
    const lookback = this.options.accountingLookbackSeconds ?? 7 * 86_400;
    const since = new Date(Date.now() - lookback * 1000).toISOString().slice(0, 19);
    try {
      const accounted = await this.query('sacct', [
        '--json',
        '--allocations',
        `--name=${name}`,
        `--starttime=${since}`,
      ]);
      return accounted.find((job) => job.name === name);
    } catch (error) {
      if (isAccountingDisabled(error)) return undefined;
      throw error;
    }
  }

  /** The listed jobs slurmctld still knows, by id. */
  private async squeue(ids: readonly string[]): Promise<Map<string, SlurmJob>> {
    let jobs: SlurmJob[];
    try {
      jobs = await this.query('squeue', ['--json', '--states=all', `--jobs=${ids.join(',')}`]);
    } catch (error) {
      // A single unknown id makes squeue fail instead of listing nothing: on its exit status
      // (text), or in the JSON's errors list (23.02 and later).
      if (isJobGone(error) || (error instanceof AdapterError && /Invalid job id/i.test(error.message)))
        return new Map();
      throw error;
    }
    // Slurm 22.05 ignores squeue's filters with --json and lists every job: filter here.
    const wanted = new Set(ids);
    return new Map(jobs.filter((job) => wanted.has(job.jobId)).map((job) => [job.jobId, job]));
  }

  /** The listed jobs accounting knows, by id; none when the cluster keeps no accounting. */
  private async sacct(ids: readonly string[]): Promise<Map<string, SlurmJob>> {
    let jobs: SlurmJob[];
    try {
      jobs = await this.query('sacct', ['--json', '--allocations', `--jobs=${ids.join(',')}`]);
    } catch (error) {
      if (isAccountingDisabled(error)) return new Map();
      throw error;
    }
    const wanted = new Set(ids);
    // A requeued job has one record per run; the last one is the job's present.
    return new Map(jobs.filter((job) => wanted.has(job.jobId)).map((job) => [job.jobId, job]));
  }

  private async query(tool: 'squeue' | 'sacct', args: string[]): Promise<SlurmJob[]> {
    const stdout = await this.cli.run(tool, args);
    let answer: ReturnType<typeof parseJobsDocument>;
    try {
      answer = parseJobsDocument(stdout, tool);
    } catch (error) {
      throw AdapterError.retryable(`${tool} --json printed something that is not JSON`, error);
    }
    // squeue --json exits 0 with an empty job list when slurmctld cannot be reached; taking that
    // list at its word would report every lease as vanished.
    if (answer.error !== undefined) throw AdapterError.retryable(`${tool} could not read jobs: ${answer.error}`);
    return answer.jobs;
  }
}
