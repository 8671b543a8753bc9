import highsPackage from 'highs';
import type { Highs } from 'highs';
import type { Clock } from '../clearing/clock.js';
import type { SolveOutcome, SolveRequest, SolverBackend } from '../clearing/solver-port.js';

// The package's types describe a CommonJS default; its ESM build exports the loader directly.
const loadHighs = highsPackage as unknown as () => Promise<Highs>;

/**
 * HiGHS (WebAssembly) through its sparse model API. The module is instantiated once per
 * process and reused, so a small round pays microseconds, not the ~50 ms of a fresh load.
 * HiGHS' own time limit is soft; the interrupt callbacks check the deadline as well, and the
 * caller keeps the heuristic as the fallback either way.
 */
let shared: Promise<Highs> | null = null;
let ready = false;

/**
 * How this process compiles HiGHS. V8 runs WebAssembly first through its baseline compiler
 * (Liftoff) and, for HiGHS' long solver loops, tiers up slowly: measured here, a 300-column MIP
 * took ~140 ms per solve under Liftoff and ~10 ms with optimised code, and the 1,000-bid LP
 * bound 261, 176, 139, then 67 ms on its first four solves. Compiling with the optimising
 * compiler up front costs ~1 s once (the bound's first solve took 1,052 ms, then 36-58 ms).
 * - `optimised` (the default): for processes that clear many rounds (the service's clearing
 *   worker, which warms up at start, the simulator, the benchmarks).
 * - `fast-start`: for a process that clears one round under a short limit (`gpumarket clear`),
 *   which would otherwise spend its whole second compiling.
 * The choice only affects WebAssembly compiled after it is made, so it must precede the load.
 */
export type WasmCompilation = 'optimised' | 'fast-start';
let compilation: WasmCompilation = 'optimised';

export function compileHighsFor(mode: WasmCompilation): void {
  if (shared) return;
  compilation = mode;
}

async function setCompilation(): Promise<void> {
  if (compilation !== 'optimised') return;
  try {
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--no-liftoff');
  } catch {
    // Not on Node: keep the engine's defaults.
  }
}

/** Starts loading HiGHS if nobody has; compilation runs on V8's background threads. */
export function highsModule(): Promise<Highs> {
  shared ??= setCompilation()
    .then(() => loadHighs())
    .then((module) => {
      ready = true;
      return module;
    });
  return shared as Promise<Highs>;
}

/** Whether a solve would start now rather than wait for HiGHS to compile. */
export function highsReady(): boolean {
  return ready;
}

/** Loads HiGHS and runs one tiny MIP and LP so the first real round does not pay compilation. */
export async function warmUpHighs(): Promise<void> {
  const backend = new HighsBackend();
  const model = {
    numCols: 2,
    numRows: 1,
    colCost: Float64Array.of(3, 2),
    colLower: new Float64Array(2),
    colUpper: Float64Array.of(1, 1),
    integer: Uint8Array.of(1, 1),
    rowLower: Float64Array.of(-Infinity),
    rowUpper: Float64Array.of(1.5),
    starts: Int32Array.of(0, 1, 2),
    indices: Int32Array.of(0, 0),
    values: Float64Array.of(1, 1),
  };
  await backend.solve({ model, deadline: Date.now() + 60_000 });
  await backend.solve({ model, relax: true, deadline: Date.now() + 60_000 });
}

/**
 * Compiled for a fast start, LPs with fewer rows than this solve without presolve. The bound's
 * and the prices' LPs are already compact (classes and atoms, upper-bound.ts), so presolve finds
 * little to remove, and in baseline code it costs its running time and its code's compilation:
 * in a fresh process contested 2's bound took 446-463 ms without it against 642-700 with it
 * (a throwaway script timing each solve of `upperBound`, 7 Dec), which decides whether a 1 s
 * round's bound finishes at all. Optimised, the gain (1,000 x 250: 44-54 ms against 85-116)
 * did not carry to welfare: over 46 rounds at 1 s warm the mean moved -0.003 points, with single
 * rounds moving either way by up to a point as the LP's vertex, and so its packing, changed
 * (first shape seed 17: 99.55% -> 98.50% of the bound). From ~2,500 rows presolve pays anyway:
 * the contested LPs of 4,538 rows (20,000 x 2,000) and 9,673 (50,000 x 5,000) took 443 against
 * 338 ms and 1,961 against 855 without it.
 */
const LP_PRESOLVE_MIN_ROWS = 2_000;

export class HighsBackend implements SolverBackend {
  readonly name = 'highs';

  /** `clock`: the one the requests' deadlines are read on (the round's). */
  constructor(private readonly clock: Clock = Date.now) {}

  async solve(request: SolveRequest): Promise<SolveOutcome> {
    try {
      return await this.solveOnce(request);
    } catch (error) {
      // An Emscripten abort (seen once under heavy load) leaves the instance unusable: drop it
      // so the next solve loads a fresh one, and let the caller fall back to the heuristic.
      if (!/abort|RuntimeError/i.test(`${(error as Error)?.name} ${String(error)}`)) throw error;
      shared = null;
      ready = false;
      return { status: 'none', colValue: null, objective: null, bound: null, rowDual: null };
    }
  }

  private async solveOnce(request: SolveRequest): Promise<SolveOutcome> {
    const highs = await highsModule();
    const { model } = request;
    const seconds = Math.max(0.001, (request.deadline - this.clock()) / 1000);
    const handle = highs.createModel({
      numCols: model.numCols,
      numRows: model.numRows,
      sense: highs.constants.objectiveSense.maximize,
      colCost: model.colCost,
      colLower: model.colLower,
      colUpper: model.colUpper,
      rowLower: model.rowLower,
      rowUpper: model.rowUpper,
      matrix: {
        format: 'csc',
        numRows: model.numRows,
        numCols: model.numCols,
        starts: model.starts,
        indices: model.indices,
        values: model.values,
      },
      ...(request.relax ? {} : { integrality: Int32Array.from(model.integer) }),
    });
    try {
      handle.options.set({
        output_flag: false,
        time_limit: seconds,
        mip_rel_gap: request.relativeGap ?? 1e-4,
        random_seed: request.seed ?? 0,
        ...(request.relax && compilation === 'fast-start' && model.numRows < LP_PRESOLVE_MIN_ROWS
          ? { presolve: 'off' }
          : {}),
      });
      if (request.start && !request.relax) {
        try {
          handle.setSolution({ colValue: request.start });
        } catch {
          // HiGHS refuses some starts (status -1, seen on a few trace rounds); the start only
          // speeds the search up, and the caller keeps its own allocation if the MIP finds worse.
        }
      }
      const stopAtDeadline = (event: { interrupt(): void }): undefined => {
        if (this.clock() > request.deadline) event.interrupt();
        return undefined;
      };
      const types = highs.constants.callbackType;
      handle.run({
        [types.mipInterrupt]: stopAtDeadline,
        [types.simplexInterrupt]: stopAtDeadline,
        [types.ipmInterrupt]: stopAtDeadline,
      });
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
        // HiGHS already reports duals in the model's own sense: >= 0 on a binding <= row of a maximisation.
        rowDual: request.relax && optimal ? Float64Array.from(solution.rowDual) : null,
      };
    } finally {
      try {
        handle.dispose();
      } catch {
        // Disposal after an abort fails too; the instance is dropped above.
      }
    }
  }
}
