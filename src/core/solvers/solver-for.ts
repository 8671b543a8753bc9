import { clearRound, type ClearOptions } from '../clearing/clear-round.js';
import type { Clock } from '../clearing/clock.js';
import type { SolverBackend } from '../clearing/solver-port.js';
import type { RoundResult, RoundSnapshot } from '../market/types.js';
import { HighsBackend, highsModule } from './highs-backend.js';
import { LpSolverBackend } from './lp-solver-backend.js';

/**
 * Solvers by name, for the callers that configure one as a word (`--solver`, the simulator's
 * options): the clearing core takes a backend, never a name, so the choice lives here, at its edge.
 */
export const SOLVER_NAMES = ['auto', 'highs', 'lp-solver', 'greedy'] as const;
export type SolverName = (typeof SOLVER_NAMES)[number];

/** `auto` is HiGHS; `greedy` is no backend (clearRound's heuristics alone). */
export function solverFor(name: SolverName = 'auto', clock?: Clock): SolverBackend | null {
  if (name === 'greedy') return null;
  if (name === 'lp-solver') return new LpSolverBackend(clock);
  // HiGHS compiles on V8's background threads while the round's candidates and greedy run.
  void highsModule().catch(() => undefined);
  return new HighsBackend(clock);
}

export interface NamedClearOptions extends Omit<ClearOptions, 'backend'> {
  readonly solver?: SolverName;
}

/** clearRound with its backend chosen by name (solverFor). */
export function clearWithSolver(snapshot: RoundSnapshot, options: NamedClearOptions = {}): Promise<RoundResult> {
  const { solver, ...rest } = options;
  return clearRound(snapshot, { ...rest, backend: solverFor(solver, rest.clock) });
}
