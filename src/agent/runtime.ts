import type { LeaseRecord } from './agent-state-store.js';
import type { WorkloadCheck } from './workload-runner.js';

/**
 * How a workload is run on the node. The agent keeps the lease bookkeeping (orders, notices,
 * reports); a runtime starts, inspects and ends one lease's workload. docs/adapters.md says what
 * each one isolates.
 */
export type RuntimeKind = 'process' | 'docker' | 'podman';

export interface LeaseSpec {
  readonly leaseId: string;
  readonly node: string;
  readonly image?: string;
  readonly command?: readonly string[];
  /** The lease's own environment plus the market's GPUMARKET_* variables; nothing of the agent's. */
  readonly env: Readonly<Record<string, string>>;
  /** Local GPU indices (nvidia-smi order) and their UUIDs. */
  readonly gpus: readonly { readonly index: number; readonly uuid?: string }[];
  /** A service replica in a container: the node's port published to the container's port. */
  readonly publish?: { readonly host: number; readonly container: number };
}

export interface StartedLease {
  readonly pid: number;
  readonly pidStart?: string;
  readonly exitFile: string;
  readonly logFile: string;
  readonly container?: string;
  readonly scratch?: string;
  readonly cgroupProcs?: string;
}

export interface WorkloadRuntime {
  readonly kind: RuntimeKind;
  /** Why this runtime cannot run the workload at all (a permanent refusal), or undefined. */
  refusal(spec: LeaseSpec): string | undefined;
  start(spec: LeaseSpec): Promise<StartedLease>;
  check(lease: LeaseRecord): Promise<WorkloadCheck>;
  /** The start of a stop: SIGTERM with `graceSeconds` of notice, or an immediate kill for 0. */
  stop(lease: LeaseRecord, graceSeconds: number): Promise<void>;
  /** The end of the notice: kill whatever still runs. */
  kill(lease: LeaseRecord): Promise<void>;
  /**
   * After the workload ended: ends whatever of the lease is left and frees its resources.
   * True once nothing of the lease remains; only then are its GPUs reported free.
   */
  release(lease: LeaseRecord): Promise<boolean>;
}
