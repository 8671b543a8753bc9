import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LaneAnswer, LaneRound, SearchLane } from '../../core/clearing/search-lane.js';
import { serializeSnapshot } from '../../core/clearing/snapshot-file.js';
import type { RoundSnapshot } from '../../core/market/types.js';
import type { RelaxedSolution } from '../../core/clearing/upper-bound.js';
import type { LaneMessage, LaneReply } from './search-lane.protocol.js';

/**
 * The search lane (ClearOptions.lane, core/clearing/search-lane.ts) on a worker thread of its
 * own. The thread starts with the lane and serves one round at a time. A search that has not
 * answered `graceMs` past its deadline means a stuck thread: it is terminated, the search
 * answers null, and the next round starts a fresh one.
 */
export interface SearchLaneOptions {
  readonly graceMs?: number;
  /** The compiled thread script; default: next to this module. */
  readonly workerUrl?: URL;
}

export class SearchLaneThread implements SearchLane {
  private worker: Worker | null = null;
  private readonly workerUrl: URL;
  private readonly graceMs: number;
  private nextRound = 1;
  private readonly waiting = new Map<number, { done: (answer: LaneAnswer | null) => void; timer: NodeJS.Timeout }>();
  private closed = false;
  /** The last error the thread reported (a snapshot it could not build, a failed search); rounds see `stats.lane`. */
  lastError: string | null = null;

  constructor(options: SearchLaneOptions = {}) {
    this.workerUrl = options.workerUrl ?? new URL('./search-lane.worker.js', import.meta.url);
    this.graceMs = options.graceMs ?? 1_000;
    this.worker = this.spawn();
  }

  /** Whether the thread script exists (it does not when running from TypeScript sources). */
  static available(workerUrl: URL = new URL('./search-lane.worker.js', import.meta.url)): boolean {
    return existsSync(fileURLToPath(workerUrl));
  }

  open(snapshot: RoundSnapshot): LaneRound {
    if (this.closed) throw new Error('search lane closed');
    this.worker ??= this.spawn();
    const worker = this.worker;
    const round = this.nextRound++;
    const flag = new Int32Array(new SharedArrayBuffer(4));
    this.post(worker, {
      kind: 'open',
      round,
      snapshot: serializeSnapshot(snapshot),
      stop: flag.buffer as SharedArrayBuffer,
    });
    const stop = () => void Atomics.store(flag, 0, 1);
    return {
      search: (relaxed: RelaxedSolution, ms: number) =>
        new Promise<LaneAnswer | null>((resolve) => {
          if (this.worker !== worker) return resolve(null);
          const deadline = Date.now() + Math.max(0, ms);
          const timer = setTimeout(() => this.replace(worker), Math.max(0, ms) + this.graceMs);
          timer.unref();
          this.waiting.set(round, { done: resolve, timer });
          // A thread with a search out keeps the process alive; an idle one does not.
          worker.ref();
          this.post(worker, { kind: 'search', round, relaxed, deadline });
        }),
      stop,
      close: () => {
        stop();
        this.answer(round, null);
        if (this.worker === worker) this.post(worker, { kind: 'close', round });
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    for (const round of [...this.waiting.keys()]) this.answer(round, null);
    await worker?.terminate();
  }

  private post(worker: Worker, message: LaneMessage): void {
    worker.postMessage(message);
  }

  private answer(round: number, answer: LaneAnswer | null): void {
    const waiting = this.waiting.get(round);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.waiting.delete(round);
    waiting.done(answer);
    if (this.waiting.size === 0) this.worker?.unref();
  }

  private spawn(): Worker {
    const worker = new Worker(fileURLToPath(this.workerUrl));
    worker.unref();
    worker.on('message', (reply: LaneReply) => {
      if (reply.error) this.lastError = reply.error;
      this.answer(reply.round, reply.answer);
    });
    worker.on('error', (error) => {
      this.lastError = error.message;
      this.forget(worker);
    });
    worker.on('exit', () => this.forget(worker));
    return worker;
  }

  /** A thread past its search's deadline and the grace is stuck: a fresh one serves the next round. */
  private replace(worker: Worker): void {
    this.forget(worker);
    void worker.terminate();
  }

  /** The thread is gone or given up: its searches answer null, and the next round starts another. */
  private forget(worker: Worker): void {
    if (this.worker === worker) this.worker = null;
    for (const round of [...this.waiting.keys()]) this.answer(round, null);
  }
}
