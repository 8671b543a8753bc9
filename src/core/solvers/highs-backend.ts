import highsPackage from 'highs';
import type { Highs } from 'highs';
import type { SolveOutcome, SolveRequest, SolverBackend } from './solver-port.js';

// The package's types describe a CommonJS default; its ESM build exports the loader directly.
const loadHighs = highsPackage as unknown as () => Promise<Highs>;

/**
 * HiGHS (WebAssembly) through its sparse model API. The module is instantiated once per
 * process and reused, so a small round pays microseconds, not the ~50 ms of a fresh load.
 * HiGHS' own time limit is soft; the interrupt callbacks check the deadline as well, and the
 * caller keeps the heuristic as the fallback either way.
 */
let shared: Promise<Highs> | null = null;

export function highsModule(): Promise<Highs> {
  shared ??= loadHighs();
  return shared as Promise<Highs>;
}

export class HighsBackend implements SolverBackend {
  readonly name = 'highs';

  async solve(request: SolveRequest): Promise<SolveOutcome> {
    const highs = await highsModule();
    const { model } = request;
    const seconds = Math.max(0.001, (request.deadline - Date.now()) / 1000);
    const handle = highs.createModel({
      numCols: model.numCols,
      numRows: model.numRows,
      sense: highs.constants.objectiveSense.maximize,
      colCost: model.colCost,
      colLower: model.colLower,
      colUpper: model.colUpper,
      rowLower: model.rowLower,
      rowUpper: model.rowUpper,
      matrix: { format: 'csc', numRows: model.numRows, numCols: model.numCols, starts: model.starts, indices: model.indices, values: model.values },
      ...(request.relax ? {} : { integrality: Int32Array.from(model.integer) }),
    });
    try {
      handle.options.set({
        output_flag: false,
        time_limit: seconds,
        mip_rel_gap: request.relativeGap ?? 1e-4,
        random_seed: request.seed ?? 0,
      });
      if (request.start && !request.relax) handle.setSolution({ colValue: request.start });
      const stopAtDeadline = (event: { interrupt(): void }): undefined => {
        if (Date.now() > request.deadline) event.interrupt();
        return undefined;
      };
      const types = highs.constants.callbackType;
      handle.run({ [types.mipInterrupt]: stopAtDeadline, [types.simplexInterrupt]: stopAtDeadline, [types.ipmInterrupt]: stopAtDeadline });
      const status = handle.getModelStatus();
      const primal = handle.info.get('primal_solution_status') === highs.constants.solutionStatus.feasible;
      const optimal = status === highs.constants.modelStatus.optimal;
      if (!primal && !optimal) return { status: 'none', colValue: null, objective: null, bound: null, rowDual: null };
      const solution = handle.getSolution();
      const objective = handle.getObjectiveValue();
      let bound: number | null = null;
      if (request.relax) bound = optimal ? objective : null;
      else {
        const dualBound = Number(handle.info.get('mip_dual_bound'));
        bound = Number.isFinite(dualBound) ? dualBound : optimal ? objective : null;
      }
      return {
        status: optimal ? 'optimal' : 'feasible',
        colValue: solution.colValue,
        objective,
        bound,
        // HiGHS reports duals of a maximisation with the sign of the minimisation of -c.
        rowDual: request.relax && optimal ? solution.rowDual.map((d: number) => -d) : null,
      };
    } finally {
      handle.dispose();
    }
  }
}
