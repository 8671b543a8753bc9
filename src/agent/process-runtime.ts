import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LeaseRecord } from './agent-state-store.js';
import { killCgroup, LeaseCgroups, removeCgroup } from './lease-cgroup.js';
import { listProcesses, leaseProcesses, type LeaseTracking, type ProcessInfo } from './process-tree.js';
import type { LeaseSpec, StartedLease, WorkloadRuntime } from './runtime.js';
import { WorkloadRunner, type WorkloadCheck } from './workload-runner.js';
import type { WorkloadUsers } from './workload-users.js';

/**
 * `--runtime process`: the workload is a plain process tree on the host, for development, tests
 * and nodes without a container engine. Where the agent may switch users, it runs as the lease's
 * own unprivileged user; always with a scrubbed environment, in its own session and process group,
 * in a cgroup where cgroup v2 is writable, and with a private scratch directory as HOME and cwd.
 * GPU confinement is only CUDA_VISIBLE_DEVICES, which the workload can unset (docs/adapters.md).
 */
export interface ProcessRuntimeOptions {
  /** The agent's node name: part of the lease's marker and cgroup name. */
  readonly node: string;
  /** Where the wrapper's exit and log files go (inside the agent's private state directory). */
  readonly workloadsDir: string;
  /** Parent of the per-lease scratch directories; must be traversable by the workload users. */
  readonly scratchRoot: string;
  /** Per-GPU-slot users and the setpriv that drops to them; undefined: the agent's own user. */
  readonly users?: { readonly users: WorkloadUsers; readonly setpriv: string };
  readonly cgroups?: LeaseCgroups;
  /** PATH given to workloads. */
  readonly path: string;
}

export class ProcessRuntime implements WorkloadRuntime {
  readonly kind = 'process' as const;
  private readonly runner: WorkloadRunner;
  private readonly tracking = new Map<string, LeaseTracking>();
  private listing?: { at: number; processes: ProcessInfo[] };

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.runner = new WorkloadRunner(options.workloadsDir);
    mkdirSync(options.scratchRoot, { recursive: true });
    // Traversable but not listable: a tenant cannot even learn the other leases' directory names.
    chmodSync(options.scratchRoot, options.users ? 0o711 : 0o700);
  }

  refusal(spec: LeaseSpec): string | undefined {
    if (spec.image)
      return 'the process runtime runs commands, not container images (start the agent with --runtime docker or podman)';
    if (!spec.command?.length) return 'workload.command is empty';
    return undefined;
  }

  async start(spec: LeaseSpec): Promise<StartedLease> {
    const key = safeName(spec.leaseId);
    const scratch = join(this.options.scratchRoot, key);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { mode: 0o700 });
    const slot = Math.min(...spec.gpus.map((gpu) => gpu.index));
    const user = this.options.users?.users.forSlot(slot);
    if (user) chownSync(scratch, user.uid, user.gid);
    const cgroupProcs = this.options.cgroups?.create(`${safeName(this.options.node)}-${key}`);
    const env: Record<string, string> = {
      PATH: this.options.path,
      LANG: 'C.UTF-8',
      HOME: scratch,
      TMPDIR: scratch,
      ...spec.env,
      // Indices are nvidia-smi's (PCI bus order); CUDA's default order may differ without this.
      CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
      CUDA_VISIBLE_DEVICES: spec.gpus.map((gpu) => gpu.index).join(','),
      NVIDIA_VISIBLE_DEVICES: spec.gpus.map((gpu) => gpu.uuid ?? String(gpu.index)).join(','),
      GPUMARKET_SCRATCH: scratch,
      // The marker by which escaped processes are found again; set last, the lease cannot override it.
      GPUMARKET_NODE: this.options.node,
      GPUMARKET_LEASE_ID: spec.leaseId,
    };
    const started = this.runner.start(key, spec.command ?? [], env, {
      cwd: scratch,
      cgroupProcs,
      user:
        user && this.options.users ? { uid: user.uid, gid: user.gid, setpriv: this.options.users.setpriv } : undefined,
    });
    return { ...started, scratch, cgroupProcs };
  }

  async check(lease: LeaseRecord): Promise<WorkloadCheck> {
    const check = this.runner.check(lease);
    // Keep learning the lease's descendants while they are attached, so an escape is still found.
    if (!check.ended) leaseProcesses(this.track(lease), this.processes(), { byMarker: false });
    return check;
  }

  async stop(lease: LeaseRecord, graceSeconds: number): Promise<void> {
    this.runner.signalLease(this.track(lease), graceSeconds > 0 ? 'SIGTERM' : 'SIGKILL');
    if (graceSeconds <= 0 && lease.cgroupProcs) killCgroup(lease.cgroupProcs);
  }

  async kill(lease: LeaseRecord): Promise<void> {
    if (lease.cgroupProcs) killCgroup(lease.cgroupProcs);
    this.runner.signalLease(this.track(lease), 'SIGKILL');
  }

  async release(lease: LeaseRecord): Promise<boolean> {
    const tracking = this.track(lease);
    if (lease.cgroupProcs) killCgroup(lease.cgroupProcs);
    const left = this.runner.signalLease(tracking, 'SIGKILL');
    if (left.length > 0) return false;
    if (lease.cgroupProcs && !removeCgroup(lease.cgroupProcs)) return false;
    if (lease.scratch) rmSync(lease.scratch, { recursive: true, force: true });
    this.tracking.delete(lease.leaseId);
    return true;
  }

  /** One /proc listing serves every lease of a monitor tick. */
  private processes(): ProcessInfo[] {
    const now = Date.now();
    if (!this.listing || now - this.listing.at > 50) this.listing = { at: now, processes: listProcesses() };
    return this.listing.processes;
  }

  private track(lease: LeaseRecord): LeaseTracking {
    let tracking = this.tracking.get(lease.leaseId);
    if (!tracking) {
      // Without a recorded start time (older state files) the wrapper is found through its group.
      const known = new Set(lease.pidStart ? [`${lease.pid}:${lease.pidStart}`] : []);
      tracking = {
        leaseId: lease.leaseId,
        node: this.options.node,
        pid: lease.pid,
        pidStart: lease.pidStart,
        known,
        cgroupProcs: lease.cgroupProcs,
      };
      this.tracking.set(lease.leaseId, tracking);
    }
    return tracking;
  }
}

export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}
