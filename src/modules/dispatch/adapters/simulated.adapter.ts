import { type ChildProcess, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { freeLocalPort } from '../../../platform/http/local-serving.js';
import { SERVICE_PORT_ENV, SERVICE_READINESS_ENV } from './nvidia-agent/agent-protocol.js';
import {
  AdapterError,
  type GrantedNode,
  type PlaceOrder,
  type ProviderAdapter,
  type StatusContext,
  type StopOrder,
  type WorkloadStatus,
} from './provider-adapter.js';
import {
  MemorySimulatedFleetStore,
  type SimulatedFleetStore,
  type SimulatedNode,
  type SimulatedPlacement,
  type SimulatedWorkload,
} from './simulated-fleet-store.js';

export type { SimulatedNode, SimulatedPlacement, SimulatedWorkload } from './simulated-fleet-store.js';

/**
 * A fleet for demos, tests and the simulator. Nothing runs: a placement reserves GPU indices on
 * a node, and the workload's life is derived from the clock (it ends after the lease's run time,
 * divided by `timeScale`). Failures are injected on purpose: the next N orders, or a given
 * lease's workload. Its workloads live in a store: this process's memory by default, or
 * PostgreSQL for the fleets the service builds (restarts and replicas then see one fleet).
 */
export interface SimulatedFleetOptions {
  /** The nodes of an in-memory fleet (a store brings its own). */
  readonly nodes?: readonly SimulatedNode[];
  readonly store?: SimulatedFleetStore;
  /** Milliseconds since the epoch; injectable so tests decide when time passes. */
  readonly now?: () => number;
  /** 60 makes one simulated minute last one second (demos). Default 1. */
  readonly timeScale?: number;
  /** What a simulated workload does with SIGTERM: exit at once, or keep running until killed. */
  readonly onTerm?: 'exit' | 'ignore';
}

export class SimulatedAdapter implements ProviderAdapter {
  readonly kind = 'simulated' as const;
  private readonly store: SimulatedFleetStore;
  private readonly now: () => number;
  private readonly timeScale: number;
  private readonly onTerm: 'exit' | 'ignore';
  private readonly injectedOrderFailures: Array<'retryable' | 'permanent'> = [];
  private readonly injectedWorkloadFailures = new Map<string, { exitCode: number; afterSeconds: number }>();
  private readonly termIgnored = new Set<string>();
  /** The workloads this instance placed or read, as it last saw them (what a test observes). */
  private readonly seen = new Map<string, SimulatedWorkload>();
  /** How many workloads this instance started, per lease (an idempotent fleet never exceeds 1). */
  private readonly starts = new Map<string, number>();
  /** Served workloads (a service's replicas) this instance runs as real local processes, per lease. */
  private readonly served = new Map<string, ServedProcess>();

  constructor(options: SimulatedFleetOptions) {
    this.store = options.store ?? new MemorySimulatedFleetStore(options.nodes ?? []);
    this.now = options.now ?? Date.now;
    this.timeScale = options.timeScale ?? 1;
    this.onTerm = options.onTerm ?? 'exit';
    if (!(this.timeScale > 0)) throw new Error(`timeScale must be positive, got ${this.timeScale}`);
  }

  /** A node that joined an in-memory fleet after it was made (a stored fleet reads its nodes). */
  addNode(node: SimulatedNode): void {
    if (!(this.store instanceof MemorySimulatedFleetStore))
      throw new Error('a stored fleet takes its nodes from the store');
    this.store.addNode(node);
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
    return this.seen.get(leaseId)?.placements;
  }

  signalsOf(leaseId: string): readonly string[] {
    const workload = this.seen.get(leaseId);
    return workload ? signals(workload, this.now()) : [];
  }

  /** Reads the lease's workload from the fleet's store (what placementOf and signalsOf then show). */
  async workloadOf(leaseId: string): Promise<SimulatedWorkload | undefined> {
    const workload = await this.store.get(leaseId);
    if (workload) this.seen.set(leaseId, workload);
    return workload;
  }

  startsOf(leaseId: string): number {
    return this.starts.get(leaseId) ?? 0;
  }

  async place(order: PlaceOrder): Promise<{ handle: string }> {
    this.takeInjectedFailure('place', order.leaseId);
    const now = this.now();
    const { workload, created } = await this.store.placeOnce(order.leaseId, now, (nodes, live) => {
      const placements = order.nodes.map((granted) => ({
        externalId: granted.externalId,
        gpuIndices: freeGpus(nodes, live, granted, now),
      }));
      const injected = this.injectedWorkloadFailures.get(order.leaseId);
      const runSeconds = injected ? injected.afterSeconds : order.runtimeSeconds;
      return {
        leaseId: order.leaseId,
        // Derived from the lease, so that any process addresses the same workload.
        handle: `sim:${order.leaseId}`,
        placements,
        startedAt: now,
        endsAt: now + (runSeconds * 1000) / this.timeScale,
        exitCode: injected ? injected.exitCode : 0,
        ignoresTerm: this.termIgnored.has(order.leaseId) || this.onTerm === 'ignore',
      };
    });
    this.seen.set(order.leaseId, workload);
    if (created) this.starts.set(order.leaseId, (this.starts.get(order.leaseId) ?? 0) + 1);
    if (isServed(order.workload) && !this.served.has(order.leaseId) && workload.termAt === undefined) {
      this.served.set(order.leaseId, await ServedProcess.start(order.workload));
    }
    return { handle: workload.handle };
  }

  async preempt(order: StopOrder): Promise<void> {
    await this.stop(order, 'preempt');
  }

  async terminate(order: StopOrder): Promise<void> {
    await this.stop(order, 'terminate');
  }

  async status(leaseId: string, handle: string, context: StatusContext = {}): Promise<WorkloadStatus> {
    this.takeInjectedFailure('status', leaseId);
    const workload = await this.store.get(leaseId);
    if (!workload || workload.handle !== handle) {
      return context.stopRequested
        ? { state: 'stopped', message: `simulated workload ${handle} is gone after the market's stop` }
        : {
            state: 'failed',
            cause: 'platform',
            message: `simulated fleet has no workload ${handle} for lease ${leaseId}`,
          };
    }
    this.seen.set(leaseId, workload);
    const now = this.now();
    // A served workload is a real process: it is running until it has exited, also after SIGTERM.
    const served = this.served.get(leaseId);
    if (served && now < workload.endsAt) return served.status(workload.termAt !== undefined);
    if (served) served.signal('SIGKILL');
    const stoppedAt = stoppedAtOf(workload);
    if (stoppedAt !== undefined && stoppedAt <= now && stoppedAt < workload.endsAt) {
      return { state: 'stopped', message: `stopped by ${signals(workload, now).at(-1)}` };
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

  private async stop(order: StopOrder, reason: 'preempt' | 'terminate'): Promise<void> {
    this.takeInjectedFailure(reason, order.leaseId);
    const workload = await this.store.get(order.leaseId);
    if (!workload || workload.handle !== order.handle) return;
    const now = this.now();
    if (now >= workload.endsAt || workload.termAt !== undefined) {
      this.seen.set(order.leaseId, workload);
      return;
    }
    const stopped = await this.store.stop(order.leaseId, now, now + (order.graceSeconds * 1000) / this.timeScale);
    if (stopped) this.seen.set(order.leaseId, stopped);
    this.served.get(order.leaseId)?.stop((order.graceSeconds * 1000) / this.timeScale, stopped?.ignoresTerm ?? false);
  }

  private takeInjectedFailure(operation: string, leaseId: string): void {
    const kind = this.injectedOrderFailures.shift();
    if (kind) throw new AdapterError(kind, `injected ${kind} failure of ${operation} for lease ${leaseId}`);
  }
}

/** When the simulated process ended because of our signals. */
function stoppedAtOf(workload: SimulatedWorkload): number | undefined {
  if (workload.termAt === undefined) return undefined;
  return workload.ignoresTerm ? workload.killAt : workload.termAt;
}

function signals(workload: SimulatedWorkload, now: number): string[] {
  if (workload.termAt === undefined) return [];
  const killed = workload.ignoresTerm && workload.killAt !== undefined && workload.killAt <= now;
  return killed ? ['SIGTERM', 'SIGKILL'] : ['SIGTERM'];
}

/** GPUs are handed out lowest index first; capacity is never exceeded. */
function freeGpus(
  nodes: ReadonlyMap<string, SimulatedNode>,
  live: readonly SimulatedWorkload[],
  granted: GrantedNode,
  now: number,
): number[] {
  const node = nodes.get(granted.externalId);
  if (!node) throw AdapterError.permanent(`unknown node ${granted.externalId}`);
  if (granted.gpus > node.gpus) {
    throw AdapterError.permanent(`node ${granted.externalId} has ${node.gpus} GPUs, ${granted.gpus} asked`);
  }
  const busy = new Set<number>();
  for (const workload of live) {
    const ended = Math.min(workload.endsAt, stoppedAtOf(workload) ?? Number.POSITIVE_INFINITY);
    if (ended <= now) continue;
    for (const placement of workload.placements) {
      if (placement.externalId === granted.externalId) placement.gpuIndices.forEach((i) => busy.add(i));
    }
  }
  const free = Array.from({ length: node.gpus }, (_, i) => i).filter((i) => !busy.has(i));
  if (free.length < granted.gpus) {
    throw AdapterError.retryable(`node ${granted.externalId} has ${free.length} free GPUs, ${granted.gpus} asked`);
  }
  return free.slice(0, granted.gpus);
}

/**
 * Services (docs/services.md): a workload that carries GPUMARKET_SERVICE_PORT and a command runs
 * as a real local process, so that a demo on the simulated fleet really serves requests. It gets
 * a free local port in PORT (replicas share this host, so the service's declared port cannot be
 * used as is), and its endpoint is reported once its readiness path (GPUMARKET_READINESS_PATH,
 * default `/`) answers 200. Its life is this process's: a restarted market forgets it.
 */
const PROBE_EVERY_MS = 25;

function isServed(workload: PlaceOrder['workload']): boolean {
  return (workload.command?.length ?? 0) > 0 && workload.env?.[SERVICE_PORT_ENV] !== undefined;
}

/** Every served process of this Node process, so that none outlives it. */
const LIVE_SERVED = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of LIVE_SERVED) killGroup(child, 'SIGKILL');
});

/** Stops every served process this Node process started (a closing app calls it). */
export function stopServedProcesses(): void {
  for (const child of LIVE_SERVED) killGroup(child, 'SIGKILL');
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

class ServedProcess {
  private listeningAt?: number;
  private readyAt?: number;
  private exit?: { code: number | null; signal: NodeJS.Signals | null };
  private killTimer?: NodeJS.Timeout;

  private constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
    private readonly readinessPath: string,
    private readonly spawnedAt: number,
  ) {
    LIVE_SERVED.add(child);
    child.once('exit', (code, signal) => {
      this.exit = { code, signal };
      LIVE_SERVED.delete(child);
      if (this.killTimer) clearTimeout(this.killTimer);
    });
    child.once('error', () => {
      this.exit = { code: 127, signal: null };
      LIVE_SERVED.delete(child);
    });
    this.probe();
  }

  static async start(workload: PlaceOrder['workload']): Promise<ServedProcess> {
    const port = await freeLocalPort();
    const [file, ...args] = workload.command!;
    const readinessPath = workload.env?.[SERVICE_READINESS_ENV] ?? '/';
    // Its own process group, so a stop reaches what it started too; no shell.
    const child = spawn(file!, args, {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...workload.env, PORT: String(port) },
      stdio: 'ignore',
      detached: true,
    });
    child.unref();
    return new ServedProcess(
      child,
      port,
      readinessPath.startsWith('/') ? readinessPath : `/${readinessPath}`,
      Date.now(),
    );
  }

  status(stopRequested: boolean): WorkloadStatus {
    const serving = { spawnedAt: this.spawnedAt, listeningAt: this.listeningAt, readyAt: this.readyAt };
    if (this.exit) {
      // Stopped by the market: the caller's clock-derived answer (stopped) holds; else it ended on its own.
      const code = this.exit.code ?? 128;
      if (stopRequested)
        return {
          state: 'stopped',
          message: `served process ended after the market's stop (${this.exit.signal ?? code})`,
          serving,
        };
      return code === 0
        ? { state: 'completed', exitCode: 0, serving }
        : {
            state: 'failed',
            exitCode: code,
            message: `served process exited with ${this.exit.signal ?? code}`,
            serving,
          };
    }
    if (this.readyAt === undefined)
      return { state: 'running', message: 'starting: readiness path not yet 200', serving };
    return stopRequested
      ? { state: 'running', message: 'preemption notice: SIGTERM sent', serving }
      : { state: 'running', endpoint: `127.0.0.1:${this.port}`, serving };
  }

  /** SIGTERM now (unless it ignores it), SIGKILL when the grace ends. */
  stop(graceMs: number, ignoresTerm: boolean): void {
    if (this.exit) return;
    if (!ignoresTerm) killGroup(this.child, 'SIGTERM');
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => killGroup(this.child, 'SIGKILL'), Math.max(0, graceMs));
    this.killTimer.unref();
  }

  signal(signal: NodeJS.Signals): void {
    killGroup(this.child, signal);
  }

  /** Asks the readiness path until it answers 200 (or the process is gone). */
  private probe(): void {
    if (this.exit || this.readyAt !== undefined) return;
    const request = httpRequest(
      { host: '127.0.0.1', port: this.port, path: this.readinessPath, method: 'GET', timeout: 1000, agent: false },
      (response) => {
        response.resume();
        if (response.statusCode === 200) this.readyAt = Date.now();
        else setTimeout(() => this.probe(), PROBE_EVERY_MS).unref();
      },
    );
    request.once('socket', (socket) => socket.once('connect', () => (this.listeningAt ??= Date.now())));
    request.once('timeout', () => request.destroy());
    request.once('error', () => setTimeout(() => this.probe(), PROBE_EVERY_MS).unref());
    request.end();
  }
}
