import solverPackage from 'javascript-lp-solver';
import type { Model, SolveResult, SolverAPI } from 'javascript-lp-solver';
import type { Clock } from '../clearing/clock.js';
import type { SolveOutcome, SolveRequest, SolverBackend } from '../clearing/solver-port.js';

/**
 * javascript-lp-solver: a pure-JavaScript branch and bound, independent of HiGHS. It handles
 * only toy rounds (about 100 bids, see environment.md), so it serves as the small-round
 * backend and the cross-check in tests. It has no dual values and no proven bound of its own.
 */
// Under NodeNext the package's default export is typed as its module namespace.
const solver = solverPackage as unknown as SolverAPI;

export class LpSolverBackend implements SolverBackend {
  readonly name = 'lp-solver';

  /** `clock`: the one the requests' deadlines are read on (the round's). */
  constructor(private readonly clock: Clock = Date.now) {}

  async solve(request: SolveRequest): Promise<SolveOutcome> {
    const { model } = request;
    const constraints: Model['constraints'] = {};
    for (let i = 0; i < model.numRows; i++) {
      const bound: { min?: number; max?: number } = {};
      if (Number.isFinite(model.rowLower[i])) bound.min = model.rowLower[i];
      if (Number.isFinite(model.rowUpper[i])) bound.max = model.rowUpper[i];
      constraints[`r${i}`] = bound;
    }
    const variables: Model['variables'] = {};
    const ints: Record<string, 1> = {};
    for (let j = 0; j < model.numCols; j++) {
      const coefficients: Record<string, number> = { welfare: model.colCost[j] };
      for (let k = model.starts[j]; k < model.starts[j + 1]; k++)
        coefficients[`r${model.indices[k]}`] = model.values[k];
      if (Number.isFinite(model.colUpper[j])) {
        coefficients[`u${j}`] = 1;
        constraints[`u${j}`] = { max: model.colUpper[j] };
      }
      variables[`c${j}`] = coefficients;
      if (model.integer[j] && !request.relax) ints[`c${j}`] = 1;
    }
    const timeout = Math.max(1, request.deadline - this.clock());
    const result = solver.Solve({
      optimize: 'welfare',
      opType: 'max',
      constraints,
      variables,
      ints,
      options: { timeout, tolerance: 0 },
    }) as SolveResult;
    if (!result.feasible) return { status: 'none', colValue: null, objective: null, bound: null, rowDual: null };
    const colValue = new Float64Array(model.numCols);
    for (let j = 0; j < model.numCols; j++) {
      const v = result[`c${j}`];
      colValue[j] = typeof v === 'number' ? v : 0;
    }
    const timedOut = this.clock() >= request.deadline;
    const objective = colValue.reduce((t, v, j) => t + v * model.colCost[j], 0);
    return {
      status: timedOut ? 'feasible' : 'optimal',
      colValue,
      objective,
      bound: timedOut ? null : objective,
      rowDual: null,
    };
  }
}
