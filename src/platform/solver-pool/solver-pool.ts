import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HighsBackend, type WasmCompilation } from '../../core/solvers/highs-backend.js';
import type { SolveOutcome, SolveRequest, SolverBackend } from '../../core/clearing/solver-port.js';
import { SOLVER_READY } from './solver-pool.protocol.js';
import type { SolvedMessage, SolveMessage, SolverThreadData } from './solver-pool.protocol.js';

/**
 * HiGHS on a pool of worker threads, so the MIP phase solves several parts of a round at once
 * (ClearOptions.partsSolver). HiGHS in WebAssembly runs on the thread that calls it and blocks
 * it, so parallel solves need threads of their own; each thread compiles HiGHS once, when the
 * pool starts, and keeps it.
 *
 * The calling thread is one of the lanes (`inline`): while its parts are out it would only wait,
 * so on a 2-core host one pool thread and the calling thread solve two parts at once. A solve
 * that finds no thread ready (still compiling, or all busy past the lanes) runs inline. A thread
 * that overruns its solve's deadline by `graceMs` is terminated (HiGHS cannot be interrupted
 * from outside), its solve answers "no solution" (the caller keeps what it had) and a fresh
 * thread takes its place.
 */
export interface SolverPoolOptions {
  /** Worker threads; default: the host's cores less one, at least 1. 0 solves everything inline. */
  readonly threads?: number;
  /** Whether the calling thread solves too (one more lane); default true. */
  readonly inline?: boolean;
  /** How the threads compile HiGHS (see highs-backend.ts); default `optimised`. */
  readonly compilation?: WasmCompilation;
  readonly graceMs?: number;
  /** The compiled thread script; default: next to this module. */
  readonly workerUrl?: URL;
}

interface Outstanding {
  readonly done: (outcome: SolveOutcome) => void;
  readonly deadline: number;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Solves sent to the thread and not yet answered, in the order it runs them. */
  readonly outstanding: Map<number, Outstanding>;
  timer: NodeJS.Timeout | null;
}

const NONE: SolveOutcome = { status: 'none', colValue: null, objective: null, bound: null, rowDual: null };

export function defaultSolverThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

export class SolverPool implements SolverBackend {
  readonly name = 'highs';
  readonly concurrency: number;
  private readonly slots: Slot[] = [];
  private readonly inline = new HighsBackend();
  private readonly workerUrl: URL;
  private readonly compilation: WasmCompilation;
  private readonly graceMs: number;
  private nextId = 1;
  private closed = false;

  constructor(options: SolverPoolOptions = {}) {
    this.workerUrl = options.workerUrl ?? new URL('./solver-pool.worker.js', import.meta.url);
    this.compilation = options.compilation ?? 'optimised';
    this.graceMs = options.graceMs ?? 1_000;
    const threads = SolverPool.available(this.workerUrl)
      ? Math.max(0, Math.floor(options.threads ?? defaultSolverThreads()))
      : 0;
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
    this.concurrency = Math.max(1, threads + (options.inline === false ? 0 : 1));
  }

  /** Whether the thread script exists (it does not when running from TypeScript sources). */
  static available(workerUrl: URL = new URL('./solver-pool.worker.js', import.meta.url)): boolean {
    return existsSync(fileURLToPath(workerUrl));
  }

  get threads(): number {
    return this.slots.length;
  }

  /** Resolves once every thread has compiled HiGHS (or died trying). */
  async ready(): Promise<void> {
    while (!this.closed && this.slots.some((s) => !s.ready)) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  solve(request: SolveRequest): Promise<SolveOutcome> {
    const slot = this.slots.find((s) => s.ready && s.outstanding.size === 0);
    if (slot) return this.send(slot, request);
    if (this.slots.length === 0) return this.inline.solve(request);
    // An inline solve blocks this thread from its first microtask to its last: started from
    // setImmediate, it lets the threads' answers that came in meanwhile be taken first, so a
    // caller that keeps several solves in flight can send a thread its next one (otherwise a
    // thread's answer waits until the calling thread stops solving inline).
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.inline.solve(request));
  }

  private send(slot: Slot, request: SolveRequest): Promise<SolveOutcome> {
    const id = this.nextId++;
    return new Promise<SolveOutcome>((resolve) => {
      slot.outstanding.set(id, { done: resolve, deadline: request.deadline });
      this.arm(slot);
      // An idle thread does not keep the process alive; one with a solve out must.
      slot.worker.ref();
      slot.worker.postMessage({ id, request } satisfies SolveMessage);
    });
  }

  /**
   * The thread runs its solves one after another, each to its own deadline: past the last one and the grace, it is
   * stuck.
   */
  private arm(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    const last = Math.max(...[...slot.outstanding.values()].map((o) => o.deadline));
    slot.timer = setTimeout(() => this.replace(slot), Math.max(0, last - Date.now()) + this.graceMs);
    slot.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const slot of slots) this.failAll(slot);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = new Worker(fileURLToPath(this.workerUrl), {
      workerData: { compilation: this.compilation } satisfies SolverThreadData,
    });
    worker.unref();
    const slot: Slot = { worker, ready: false, outstanding: new Map(), timer: null };
    worker.on('message', (message: SolvedMessage | typeof SOLVER_READY) => {
      if (message === SOLVER_READY) slot.ready = true;
      else this.answer(slot, message.id, message.outcome ?? NONE);
    });
    const lost = () => {
      this.failAll(slot);
      const at = this.slots.indexOf(slot);
      if (at >= 0 && !this.closed) this.slots[at] = this.spawn();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    return slot;
  }

  private answer(slot: Slot, id: number, outcome: SolveOutcome): void {
    const waiting = slot.outstanding.get(id);
    if (!waiting) return;
    slot.outstanding.delete(id);
    if (slot.outstanding.size === 0) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      slot.worker.unref();
    }
    waiting.done(outcome);
  }

  private failAll(slot: Slot): void {
    for (const id of [...slot.outstanding.keys()]) this.answer(slot, id, NONE);
  }

  /** A thread past its deadlines and grace: its solves get nothing, and a fresh thread replaces it. */
  private replace(slot: Slot): void {
    this.failAll(slot);
    slot.ready = false;
    void slot.worker.terminate();
  }
}
