import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ReportedState } from '../modules/dispatch/adapters/nvidia-agent/agent-protocol.js';

/**
 * The agent's own memory of the workloads it started, on local disk. It is what lets a restarted
 * agent re-adopt running workloads instead of starting second copies, and report the ones that
 * ended while it was away.
 */
export interface LeaseRecord {
  readonly leaseId: string;
  readonly handle: string;
  /** The wrapper's pid (process runtime; 0 for containers). It is also the lease's process group. */
  readonly pid: number;
  readonly gpuIndices: number[];
  readonly exitFile: string;
  readonly logFile: string;
  readonly startedAt: number;
  /** Start time of the wrapper (clock ticks after boot): tells its pid and group apart from a reuse. */
  readonly pidStart?: string;
  /** Which runtime started it (absent in state files of older agents: process). */
  readonly runtime?: 'process' | 'docker' | 'podman';
  /** Container name (container runtimes). */
  readonly container?: string;
  /** The lease's private scratch directory, removed once nothing of the lease is left. */
  readonly scratch?: string;
  /** cgroup.procs of the lease's cgroup (process runtime, where cgroup v2 is writable). */
  readonly cgroupProcs?: string;
  /** The workload ended (exit code or signal) but processes or a container of it may remain. */
  exited?: { exitCode?: number; signal?: string };
  stop?: { reason: 'preempt' | 'terminate'; termAt: number; killAt: number; killSent: boolean };
  ended?: { state: Exclude<ReportedState, 'running'>; exitCode?: number; message?: string; at: number };
  /**
   * A service replica: the node's port it is reached at, its readiness path, and when it first
   * accepted a connection and answered 200 there (epoch ms).
   */
  serving?: { readonly port: number; readonly readinessPath: string; listeningAt?: number; readyAt?: number };
  /** The last state the market accepted; a differing current state is reported again. */
  reported?: ReportedState;
  /** The market accepted the replica's endpoint (a `running` report with it). */
  reportedReady?: boolean;
}

interface StateFile {
  readonly version: 1;
  readonly leases: LeaseRecord[];
}

export class AgentStateStore {
  constructor(private readonly path: string) {}

  load(): Map<string, LeaseRecord> {
    if (!existsSync(this.path)) return new Map();
    const state = JSON.parse(readFileSync(this.path, 'utf8')) as StateFile;
    if (state.version !== 1) throw new Error(`${this.path}: unknown state file version ${String(state.version)}`);
    return new Map(state.leases.map((lease) => [lease.leaseId, lease]));
  }

  /** Written to a temporary file and renamed, so a crash never leaves half a state file. */
  save(leases: Map<string, LeaseRecord>): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const state: StateFile = { version: 1, leases: [...leases.values()] };
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(state, null, 2), { mode: 0o600 });
    renameSync(temporary, this.path);
  }
}
