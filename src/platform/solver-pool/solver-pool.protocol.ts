import type { SolveOutcome, SolveRequest } from '../../core/clearing/solver-port.js';
import type { WasmCompilation } from '../../core/solvers/highs-backend.js';

/** Messages between SolverPool and its threads (solver-pool.worker.ts). */
export interface SolveMessage {
  readonly id: number;
  readonly request: SolveRequest;
}

export interface SolvedMessage {
  readonly id: number;
  readonly outcome?: SolveOutcome;
  readonly error?: string;
}

export interface SolverThreadData {
  readonly compilation: WasmCompilation;
}

/** Sent once by a thread, when HiGHS is compiled and it takes solves. */
export const SOLVER_READY = 'solver-ready';
