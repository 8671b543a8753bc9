import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { clearRound } from '../../core/clearing/clear-round.js';
import { readResult, serializeSnapshot } from '../../core/clearing/snapshot-file.js';
import { solverFor } from '../../core/solvers/solver-for.js';
import type { RoundResult, RoundSnapshot } from '../../core/market/types.js';
import { READY } from './clearing-protocol.js';
import type { ClearReply, ClearRequest } from './clearing-protocol.js';

/**
 * Runs the clearing core on a worker thread. The thread keeps HiGHS compiled between rounds;
 * a round that outlives its budget by more than the grace is stopped by terminating the thread
 * (HiGHS cannot be interrupted from outside) and cleared by the greedy here instead, and the
 * next round starts a fresh thread. Where the compiled worker script is absent (tests that run
 * the service from its TypeScript sources) rounds clear on the calling thread. A round that
 * finds the thread still compiling HiGHS (the first seconds after start) waits for it at most
 * its own time limit and otherwise clears with the greedy, leaving the thread to finish.
 */
export interface ClearingRunnerOptions {
  /** The compiled worker script; default: next to this module. */
  readonly workerUrl?: URL;
  /** How far past its time limit a round may run before its thread is terminated. */
  readonly graceMs?: (timeLimitMs: number) => number;
  /** Threads that solve the MIP phase's parts beside the clearing thread; default: cores less one. */
  readonly solverThreads?: number;
}

const DEFAULT_GRACE = (limit: number) => Math.max(2_000, limit / 2);

@Injectable()
export class ClearingRunner implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Clearing');
  private readonly workerUrl: URL;
  private readonly grace: (limit: number) => number;
  private readonly solverThreads: number | undefined;
  private worker: Worker | null = null;
  /** Set at shutdown: rounds still running then clear with the greedy here, and no thread starts again. */
  private closed = false;
  private ready: Promise<boolean> = Promise.resolve(false);
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { readonly worker: Worker; readonly done: (reply: ClearReply | 'died') => void }
  >();

  constructor(options: ClearingRunnerOptions = {}) {
    this.workerUrl = options.workerUrl ?? new URL('./clearing-worker.js', import.meta.url);
    this.grace = options.graceMs ?? DEFAULT_GRACE;
    this.solverThreads = options.solverThreads;
  }

  /** Whether rounds run on the worker thread (false when running from sources). */
  get threaded(): boolean {
    return existsSync(fileURLToPath(this.workerUrl));
  }

  /** Starts the thread, so that HiGHS compiles before the first round rather than during it. */
  onApplicationBootstrap(): void {
    if (this.threaded) this.thread();
  }

  async clear(snapshot: RoundSnapshot, timeLimitMs: number): Promise<RoundResult> {
    if (!this.threaded) return clearRound(snapshot, { timeLimitMs, backend: solverFor('auto') });
    if (this.closed) return this.greedy(snapshot, timeLimitMs, 'the service is shutting down');
    const id = this.nextId++;
    const worker = this.thread();
    const warm = await Promise.race([
      this.ready,
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeLimitMs).unref()),
    ]);
    if (!warm) {
      this.logger.warn(
        `round ${snapshot.roundId}: the clearing thread is still compiling HiGHS; this round uses the greedy`,
      );
      return this.greedy(snapshot, timeLimitMs, 'the clearing thread was still starting');
    }
    const reply = await new Promise<ClearReply | 'timeout' | 'died'>((resolve) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          resolve('timeout');
        },
        timeLimitMs + this.grace(timeLimitMs),
      );
      const done = (r: ClearReply | 'died') => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(r);
      };
      this.pending.set(id, { worker, done });
      worker.postMessage({
        id,
        snapshot: serializeSnapshot(snapshot),
        options: { timeLimitMs },
      } satisfies ClearRequest);
    });
    if (reply !== 'timeout' && reply !== 'died' && 'result' in reply) return readResult(reply.result);
    const why =
      reply === 'timeout'
        ? `ran ${timeLimitMs + this.grace(timeLimitMs)} ms, past its limit and grace`
        : reply === 'died'
          ? 'its thread died'
          : reply.error;
    this.logger.error(`round ${snapshot.roundId}: clearing on its thread failed (${why}); this round uses the greedy`);
    if (reply === 'timeout') await this.stopThread();
    return this.greedy(snapshot, timeLimitMs, why);
  }

  private async greedy(snapshot: RoundSnapshot, timeLimitMs: number, why: string): Promise<RoundResult> {
    const fallback = await clearRound(snapshot, { timeLimitMs, backend: null });
    return { ...fallback, stats: { ...fallback.stats, fallback: why } };
  }

  /** A round in flight at shutdown finishes at once with the greedy instead of waiting for the thread. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.stopThread();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.stopThread();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(fileURLToPath(this.workerUrl), { workerData: { solverThreads: this.solverThreads } });
    worker.unref();
    this.ready = new Promise<boolean>((resolve) => {
      worker.on('message', (message: ClearReply | typeof READY) =>
        message === READY ? resolve(true) : this.pending.get(message.id)?.done(message),
      );
      worker.once('exit', () => resolve(false));
    });
    const lost = (error?: unknown) => {
      if (this.worker === worker) this.worker = null;
      if (error) this.logger.error(`clearing thread failed: ${error instanceof Error ? error.message : String(error)}`);
      for (const p of [...this.pending.values()]) if (p.worker === worker) p.done('died');
    };
    worker.on('error', lost);
    worker.on('exit', () => lost());
    this.worker = worker;
    return worker;
  }

  private async stopThread(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }
}
