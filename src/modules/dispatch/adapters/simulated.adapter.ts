import {
  AdapterError,
  type GrantedNode,
  type PlaceOrder,
  type ProviderAdapter,
  type StopOrder,
  type WorkloadStatus,
} from './provider-adapter.js';

/**
 * An in-process fleet for demos, tests and the simulator. Nothing runs: a placement reserves GPU
 * indices on a node, and the workload's life is derived from the clock (it ends after the lease's
 * run time, divided by `timeScale`). Failures are injected on purpose: the next N orders, or a
 * given lease's workload.
 */
export interface SimulatedNode {
  readonly externalId: string;
  readonly gpus: number;
}

export interface SimulatedFleetOptions {
  readonly nodes: readonly SimulatedNode[];
  /** Milliseconds since the epoch; injectable so tests decide when time passes. */
  readonly now?: () => number;
  /** 60 makes one simulated minute last one second (demos). Default 1. */
  readonly timeScale?: number;
  /** What a simulated workload does with SIGTERM: exit at once, or keep running until killed. */
  readonly onTerm?: 'exit' | 'ignore';
}

interface SimulatedWorkload {
  readonly leaseId: string;
  readonly handle: string;
  readonly placements: ReadonlyArray<{ externalId: string; gpuIndices: number[] }>;
  readonly startedAt: number;
  readonly endsAt: number;
  readonly exitCode: number;
  readonly ignoresTerm: boolean;
  termAt?: number;
  killAt?: number;
}

export interface SimulatedPlacement {
  readonly externalId: string;
  readonly gpuIndices: readonly number[];
}

export class SimulatedAdapter implements ProviderAdapter {
  readonly kind = 'simulated' as const;
  private readonly nodes: Map<string, SimulatedNode>;
  private readonly now: () => number;
  private readonly timeScale: number;
  private readonly onTerm: 'exit' | 'ignore';
  private readonly workloads = new Map<string, SimulatedWorkload>();
  private readonly injectedOrderFailures: Array<'retryable' | 'permanent'> = [];
  private readonly injectedWorkloadFailures = new Map<string, { exitCode: number; afterSeconds: number }>();
  private readonly termIgnored = new Set<string>();
  private nextHandle = 1;
  /** How many workloads were ever started, per lease (an idempotent fleet never exceeds 1). */
  private readonly starts = new Map<string, number>();

  constructor(options: SimulatedFleetOptions) {
    this.nodes = new Map(options.nodes.map((node) => [node.externalId, node]));
    this.now = options.now ?? Date.now;
    this.timeScale = options.timeScale ?? 1;
    this.onTerm = options.onTerm ?? 'exit';
    if (!(this.timeScale > 0)) throw new Error(`timeScale must be positive, got ${this.timeScale}`);
  }

  /** A node that joined the fleet after it was made: the service registers nodes at any time. */
  addNode(node: SimulatedNode): void {
    this.nodes.set(node.externalId, node);
  }

  /** The next `count` orders (of any type) fail with an AdapterError of this kind. */
  failNextOrders(count: number, kind: 'retryable' | 'permanent'): void {
    for (let i = 0; i < count; i += 1) this.injectedOrderFailures.push(kind);
  }

  /** The lease's workload (placed now or later) exits with `exitCode` after `afterSeconds` of run. */
  failWorkload(leaseId: string, exitCode: number, afterSeconds = 0): void {
    this.injectedWorkloadFailures.set(leaseId, { exitCode, afterSeconds });
  }

  /** The lease's workload (placed now or later) keeps running on SIGTERM until the notice ends. */
  ignoreTerm(leaseId: string): void {
    this.termIgnored.add(leaseId);
  }

  /** Where the lease's workload runs, GPU by GPU (the observation a test makes of the fleet). */
  placementOf(leaseId: string): readonly SimulatedPlacement[] | undefined {
    return this.workloads.get(leaseId)?.placements;
  }

  signalsOf(leaseId: string): readonly string[] {
    const workload = this.workloads.get(leaseId);
    if (workload?.termAt === undefined) return [];
    const killed = workload.ignoresTerm && workload.killAt !== undefined && workload.killAt <= this.now();
    return killed ? ['SIGTERM', 'SIGKILL'] : ['SIGTERM'];
  }

  startsOf(leaseId: string): number {
    return this.starts.get(leaseId) ?? 0;
  }

  async place(order: PlaceOrder): Promise<{ handle: string }> {
    this.takeInjectedFailure('place', order.leaseId);
    const existing = this.workloads.get(order.leaseId);
    if (existing) return { handle: existing.handle };
    const placements = order.nodes.map((granted) => ({
      externalId: granted.externalId,
      gpuIndices: this.freeGpus(granted),
    }));
    const now = this.now();
    const injected = this.injectedWorkloadFailures.get(order.leaseId);
    const runSeconds = injected ? injected.afterSeconds : order.runtimeSeconds;
    const workload: SimulatedWorkload = {
      leaseId: order.leaseId,
      handle: `sim-${this.nextHandle++}`,
      placements,
      startedAt: now,
      endsAt: now + (runSeconds * 1000) / this.timeScale,
      exitCode: injected ? injected.exitCode : 0,
      ignoresTerm: this.termIgnored.has(order.leaseId) || this.onTerm === 'ignore',
    };
    this.workloads.set(order.leaseId, workload);
    this.starts.set(order.leaseId, (this.starts.get(order.leaseId) ?? 0) + 1);
    return { handle: workload.handle };
  }

  async preempt(order: StopOrder): Promise<void> {
    this.stop(order, 'preempt');
  }

  async terminate(order: StopOrder): Promise<void> {
    this.stop(order, 'terminate');
  }

  async status(leaseId: string, handle: string): Promise<WorkloadStatus> {
    this.takeInjectedFailure('status', leaseId);
    const workload = this.workloads.get(leaseId);
    if (!workload || workload.handle !== handle) {
      return { state: 'failed', message: `simulated fleet has no workload ${handle} for lease ${leaseId}` };
    }
    const now = this.now();
    const stoppedAt = this.stoppedAt(workload);
    if (stoppedAt !== undefined && stoppedAt <= now && stoppedAt < workload.endsAt) {
      return { state: 'stopped', message: `stopped by ${this.signalsOf(leaseId).at(-1)}` };
    }
    if (now >= workload.endsAt) {
      return workload.exitCode === 0
        ? { state: 'completed', exitCode: 0 }
        : { state: 'failed', exitCode: workload.exitCode };
    }
    return workload.termAt !== undefined
      ? { state: 'running', message: 'preemption notice: SIGTERM sent' }
      : { state: 'running' };
  }

  private stop(order: StopOrder, reason: 'preempt' | 'terminate'): void {
    this.takeInjectedFailure(reason, order.leaseId);
    const workload = this.workloads.get(order.leaseId);
    if (!workload || workload.handle !== order.handle) return;
    const now = this.now();
    if (now >= workload.endsAt || workload.termAt !== undefined) return;
    workload.termAt = now;
    workload.killAt = now + (order.graceSeconds * 1000) / this.timeScale;
  }

  /** When the simulated process ended because of our signals. */
  private stoppedAt(workload: SimulatedWorkload): number | undefined {
    if (workload.termAt === undefined) return undefined;
    return workload.ignoresTerm ? workload.killAt : workload.termAt;
  }

  /** GPUs are handed out lowest index first; capacity is never exceeded. */
  private freeGpus(granted: GrantedNode): number[] {
    const node = this.nodes.get(granted.externalId);
    if (!node) throw AdapterError.permanent(`unknown node ${granted.externalId}`);
    const now = this.now();
    const busy = new Set<number>();
    for (const workload of this.workloads.values()) {
      const ended = Math.min(workload.endsAt, this.stoppedAt(workload) ?? Number.POSITIVE_INFINITY);
      if (ended <= now) continue;
      for (const placement of workload.placements) {
        if (placement.externalId === granted.externalId) placement.gpuIndices.forEach((i) => busy.add(i));
      }
    }
    const free = Array.from({ length: node.gpus }, (_, i) => i).filter((i) => !busy.has(i));
    if (granted.gpus > node.gpus) {
      throw AdapterError.permanent(`node ${granted.externalId} has ${node.gpus} GPUs, ${granted.gpus} asked`);
    }
    if (free.length < granted.gpus) {
      throw AdapterError.retryable(`node ${granted.externalId} has ${free.length} free GPUs, ${granted.gpus} asked`);
    }
    return free.slice(0, granted.gpus);
  }

  private takeInjectedFailure(operation: string, leaseId: string): void {
    const kind = this.injectedOrderFailures.shift();
    if (kind) throw new AdapterError(kind, `injected ${kind} failure of ${operation} for lease ${leaseId}`);
  }
}
