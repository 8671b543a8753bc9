import {
  AdapterError,
  type PlaceOrder,
  type ProviderAdapter,
  type StatusContext,
  type StopOrder,
  type WorkloadStatus,
} from '../provider-adapter.js';
import { SlurmCli, isJobGone, type SlurmCliOptions } from './slurm-cli.js';
import { STOP_COMMENT_PREFIX, isFinal, toWorkloadStatus, type SlurmJob } from './slurm-job-status.js';
import { buildSubmission, jobNameFor, type SlurmSubmissionOptions } from './slurm-submission.js';

/**
 * The `slurm` adapter: one batch job per lease, named after the lease, on the granted nodes with
 * `--gres=gpu:<type>:<n>`. Preemption signals the batch step with SIGTERM and cancels the job when
 * the notice ends. Status comes from the controller (`squeue --json`), so it survives a restart of
 * the market; the only in-process state is the timer of a notice in progress (the market's own
 * terminate order at the notice's end stops the job too, should that timer be lost).
 */
export interface SlurmAdapterOptions extends SlurmCliOptions, SlurmSubmissionOptions {
  /**
   * How long one `squeue --json` snapshot answers status calls. A sweep over many leases then
   * costs the controller one query. A lease missing from a cached snapshot is re-read fresh.
   */
  readonly statusCacheMs?: number;
}

interface JobsSnapshot {
  readonly at: number;
  readonly jobs: readonly SlurmJob[];
}

export class SlurmAdapter implements ProviderAdapter {
  readonly kind = 'slurm' as const;
  private readonly cli: SlurmCli;
  private snapshot?: JobsSnapshot;
  private readonly placing = new Map<string, Promise<{ handle: string }>>();
  private readonly hardStops = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: SlurmAdapterOptions = {}) {
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
    let job = (await this.jobs(false)).find((candidate) => String(candidate.job_id) === handle);
    if (!job) job = (await this.jobs(true)).find((candidate) => String(candidate.job_id) === handle);
    if (job && job.name !== jobNameFor(leaseId)) {
      return { state: 'failed', message: `job ${handle} belongs to ${job.name}, not lease ${leaseId}` };
    }
    return toWorkloadStatus(job, handle, context);
  }

  /** Cancels pending hard-stop timers (the jobs keep their state in slurmctld). */
  close(): void {
    for (const timer of this.hardStops.values()) clearTimeout(timer);
    this.hardStops.clear();
  }

  private async submitOnce(order: PlaceOrder): Promise<{ handle: string }> {
    // A job named after the lease already exists when an earlier attempt (or another replica)
    // submitted it, even if that attempt's answer was lost.
    const existing = await this.findJobOfLease(order.leaseId);
    if (existing) return { handle: String(existing.job_id) };
    const submission = buildSubmission(order, this.options);
    const stdout = await this.cli.run('sbatch', submission.args, submission.script);
    this.snapshot = undefined;
    const jobId = stdout.trim().split(';')[0];
    if (!jobId || !/^\d+$/.test(jobId)) throw AdapterError.retryable(`sbatch answered ${JSON.stringify(stdout)}`);
    return { handle: jobId };
  }

  private async stop(order: StopOrder, reason: 'preempt' | 'terminate'): Promise<void> {
    const job = (await this.jobs(true)).find((candidate) => String(candidate.job_id) === order.handle);
    if (!job || isFinal(job)) return;
    if (job.name !== jobNameFor(order.leaseId)) {
      throw AdapterError.permanent(`job ${order.handle} belongs to ${job.name}, not lease ${order.leaseId}`);
    }
    try {
      // Recorded in the controller so that the job's end reads as stopped after a market restart.
      await this.cli.run('scontrol', ['update', `JobId=${order.handle}`, `Comment=${STOP_COMMENT_PREFIX}${reason}`]);
      if (job.job_state === 'PENDING' || order.graceSeconds <= 0) {
        await this.hardStop(order.handle);
      } else {
        // --batch: a plain `scancel --signal` does not reach the batch script's process.
        await this.cli.run('scancel', ['--signal=TERM', '--batch', order.handle]);
        this.scheduleHardStop(order.handle, order.graceSeconds);
      }
    } catch (error) {
      if (!isJobGone(error)) throw error;
    } finally {
      this.snapshot = undefined;
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
    this.snapshot = undefined;
  }

  private async findJobOfLease(leaseId: string): Promise<SlurmJob | undefined> {
    const name = jobNameFor(leaseId);
    return (await this.jobs(true)).find((job) => job.name === name);
  }

  private async jobs(fresh: boolean): Promise<readonly SlurmJob[]> {
    const now = Date.now();
    const maxAge = this.options.statusCacheMs ?? 1000;
    if (!fresh && this.snapshot && now - this.snapshot.at < maxAge) return this.snapshot.jobs;
    // Slurm 22.05 ignores squeue's filters with --json, so read all jobs (in every state) once.
    const stdout = await this.cli.run('squeue', ['--json', '--all', '--states=all']);
    let parsed: { jobs?: SlurmJob[]; errors?: Array<{ description?: string; error?: string }> };
    try {
      parsed = JSON.parse(stdout) as typeof parsed;
    } catch (error) {
      throw AdapterError.retryable('squeue --json printed something that is not JSON', error);
    }
    // squeue --json exits 0 with an empty job list when slurmctld cannot be reached; taking that
    // list at its word would report every lease as vanished.
    if (parsed.errors && parsed.errors.length > 0) {
      const first = parsed.errors[0]!;
      throw AdapterError.retryable(`squeue could not read jobs from slurmctld: ${first.description ?? first.error}`);
    }
    this.snapshot = { at: now, jobs: parsed.jobs ?? [] };
    return this.snapshot.jobs;
  }
}
