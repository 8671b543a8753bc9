/**
 * The provider adapter port: how the market starts, signals and stops work on a provider's
 * fleet. One implementation per kind of fleet (simulated, slurm, kubernetes, nvidia-agent);
 * every implementation passes the contract suite in test/adapters/.
 *
 * Orders are idempotent by lease id: placing a lease that is already placed returns the same
 * handle and starts nothing new; preempting or terminating a finished lease is a no-op.
 */

export type AdapterKind = 'simulated' | 'slurm' | 'kubernetes' | 'nvidia-agent';
export const ADAPTER_KINDS: readonly AdapterKind[] = ['simulated', 'slurm', 'kubernetes', 'nvidia-agent'];

export interface Workload {
  readonly image?: string;
  /** argv; run without a shell where the platform allows. */
  readonly command?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface GrantedNode {
  /** The market's node id. */
  readonly nodeId: string;
  /** The provider-side handle of the node (Slurm node name, Kubernetes node name, agent host). */
  readonly externalId: string;
  readonly gpus: number;
  /** GPU model as the provider names it (Slurm gres type, for example), when known. */
  readonly gpuType?: string;
}

export interface PlaceOrder {
  readonly leaseId: string;
  readonly bidId: string;
  readonly tenantId: string;
  readonly gpuModel: string;
  readonly nodes: readonly GrantedNode[];
  readonly workload: Workload;
  /** Run time the lease was granted, seconds (the workload may end sooner). */
  readonly runtimeSeconds: number;
}

export interface StopOrder {
  readonly leaseId: string;
  /** What `place` returned. */
  readonly handle: string;
  /** Seconds between the first signal (SIGTERM or equivalent) and the hard stop. */
  readonly graceSeconds: number;
}

export type WorkloadState = 'pending' | 'running' | 'completed' | 'failed' | 'stopped' | 'unknown';

export interface WorkloadStatus {
  readonly state: WorkloadState;
  readonly exitCode?: number;
  readonly message?: string;
  /**
   * For `failed`: whose failure it is. `workload`: the tenant's process failed (it exited
   * non-zero), and the bid fails with it. `platform`: the provider or the market lost the
   * workload (it vanished, was evicted, its node failed, the node refused it), and the bid is
   * reopened. When absent: `workload` if an exit code is known, else `platform`.
   */
  readonly cause?: FailureCause;
  /**
   * For `pending`: the platform's own word for why the workload has not started yet (Slurm's
   * pending reason such as `Resources`, `Priority`, `ReqNodeNotAvail`; a Pod's `ImagePullBackOff`,
   * `ErrImagePull`, `Unschedulable`). The start timeout names it when it gives up on the lease.
   */
  readonly waitingReason?: string;
  /**
   * For a workload that serves requests (a service's replica): where it serves, `host:port`, once
   * its readiness path has answered 200. Absent until then, and for workloads that do not serve.
   */
  readonly endpoint?: string;
  /**
   * For a served workload the adapter runs itself: when (ms since the epoch) it started, first accepted a connection,
   * got ready.
   */
  readonly serving?: { readonly spawnedAt: number; readonly listeningAt?: number; readonly readyAt?: number };
}

export type FailureCause = 'workload' | 'platform';

export function failureCause(status: WorkloadStatus): FailureCause {
  return status.cause ?? (status.exitCode !== undefined ? 'workload' : 'platform');
}

/**
 * What the market knows about a lease when it asks for its status. The adapter answering may be
 * a fresh instance (a restarted process, another replica) that remembers nothing, so what the
 * market itself did to the workload comes with the question, from its database.
 */
export interface StatusContext {
  /**
   * A preempt or terminate order for the lease is due or done. A workload that is gone then was
   * stopped by that order, not lost: an adapter that cannot find it any more says `stopped`.
   */
  readonly stopRequested?: boolean;
}

export interface ProviderAdapter {
  readonly kind: AdapterKind;
  /** Starts the workload on exactly the granted GPUs; returns the handle to address it later. */
  place(order: PlaceOrder): Promise<{ handle: string }>;
  /** Sends SIGTERM (or the platform's equivalent) now and stops hard after graceSeconds. */
  preempt(order: StopOrder): Promise<void>;
  /** Stops the workload (cancel by the tenant, run time reached). */
  terminate(order: StopOrder): Promise<void>;
  status(leaseId: string, handle: string, context?: StatusContext): Promise<WorkloadStatus>;
  /**
   * Optional: the status of many leases of this provider in one query to the platform (one
   * `squeue --jobs=a,b,c` instead of one listing per lease). Answers every query, in any order,
   * keyed by lease id; a lease whose status could not be read maps to the AdapterError for it.
   * Throws (retryable) only when nothing could be read at all. Without it, call `status` per lease.
   */
  statusMany?(queries: readonly StatusQuery[]): Promise<Map<string, WorkloadStatus | AdapterError>>;
}

export interface StatusQuery {
  readonly leaseId: string;
  readonly handle: string;
  readonly context?: StatusContext;
}

/** Retryable: the order may succeed later (timeout, controller busy). Permanent: it never will. */
export class AdapterError extends Error {
  constructor(
    readonly kind: 'retryable' | 'permanent',
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'AdapterError';
  }

  static retryable(message: string, cause?: unknown): AdapterError {
    return new AdapterError('retryable', message, cause);
  }

  static permanent(message: string, cause?: unknown): AdapterError {
    return new AdapterError('permanent', message, cause);
  }
}
