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
}

export interface ProviderAdapter {
  readonly kind: AdapterKind;
  /** Starts the workload on exactly the granted GPUs; returns the handle to address it later. */
  place(order: PlaceOrder): Promise<{ handle: string }>;
  /** Sends SIGTERM (or the platform's equivalent) now and stops hard after graceSeconds. */
  preempt(order: StopOrder): Promise<void>;
  /** Stops the workload (cancel by the tenant, run time reached). */
  terminate(order: StopOrder): Promise<void>;
  status(leaseId: string, handle: string): Promise<WorkloadStatus>;
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
