/**
 * Where a simulated fleet keeps its workloads. In memory for a fleet a test or the simulator
 * holds; in PostgreSQL (pg-simulated-fleet-store.ts) for the fleets the service builds itself,
 * so that a restarted process, or another replica, sees the same workloads: the fleet stands in
 * for a provider's controller, whose state outlives any one market process.
 *
 * Times are milliseconds since the epoch on the fleet's clock.
 */
export interface SimulatedNode {
  readonly externalId: string;
  readonly gpus: number;
}

export interface SimulatedPlacement {
  readonly externalId: string;
  readonly gpuIndices: readonly number[];
}

export interface SimulatedWorkload {
  readonly leaseId: string;
  readonly handle: string;
  readonly placements: readonly SimulatedPlacement[];
  readonly startedAt: number;
  /** When the workload ends by itself (run time over the time scale, or an injected exit). */
  readonly endsAt: number;
  readonly exitCode: number;
  readonly ignoresTerm: boolean;
  /** When the first SIGTERM (preempt) or stop (terminate) arrived. */
  readonly termAt?: number;
  /** When the workload is killed if it ignores SIGTERM. */
  readonly killAt?: number;
}

export interface SimulatedFleetStore {
  /**
   * The lease's workload if one was ever placed; otherwise the one `build` makes from the fleet's
   * nodes and the workloads that may still hold GPUs (ending after `now`), stored before any
   * other placement of the fleet sees them. `created` tells which.
   */
  placeOnce(
    leaseId: string,
    now: number,
    build: (nodes: ReadonlyMap<string, SimulatedNode>, live: readonly SimulatedWorkload[]) => SimulatedWorkload,
  ): Promise<{ workload: SimulatedWorkload; created: boolean }>;
  get(leaseId: string): Promise<SimulatedWorkload | undefined>;
  /** Records the first stop signal; a later one changes nothing. Returns the workload as stored. */
  stop(leaseId: string, termAt: number, killAt: number): Promise<SimulatedWorkload | undefined>;
}

/** The fleet in this process's memory: a test's or the simulator's. */
export class MemorySimulatedFleetStore implements SimulatedFleetStore {
  private readonly nodes: Map<string, SimulatedNode>;
  private readonly workloads = new Map<string, SimulatedWorkload>();

  constructor(nodes: readonly SimulatedNode[]) {
    this.nodes = new Map(nodes.map((node) => [node.externalId, node]));
  }

  addNode(node: SimulatedNode): void {
    this.nodes.set(node.externalId, node);
  }

  async placeOnce(
    leaseId: string,
    now: number,
    build: (nodes: ReadonlyMap<string, SimulatedNode>, live: readonly SimulatedWorkload[]) => SimulatedWorkload,
  ): Promise<{ workload: SimulatedWorkload; created: boolean }> {
    const existing = this.workloads.get(leaseId);
    if (existing) return { workload: existing, created: false };
    const workload = build(
      this.nodes,
      [...this.workloads.values()].filter((w) => w.endsAt > now),
    );
    this.workloads.set(leaseId, workload);
    return { workload, created: true };
  }

  async get(leaseId: string): Promise<SimulatedWorkload | undefined> {
    return this.workloads.get(leaseId);
  }

  /** Forgets a workload, as a controller purges an ended job (tests of what the market sees then). */
  forget(leaseId: string): void {
    this.workloads.delete(leaseId);
  }

  async stop(leaseId: string, termAt: number, killAt: number): Promise<SimulatedWorkload | undefined> {
    const workload = this.workloads.get(leaseId);
    if (!workload || workload.termAt !== undefined) return workload;
    const stopped = { ...workload, termAt, killAt };
    this.workloads.set(leaseId, stopped);
    return stopped;
  }
}
