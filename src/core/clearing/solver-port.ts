/**
 * The one solver port: a sparse linear model (maximise), solved as a MIP or as its LP
 * relaxation. The clearing owns it and is handed a backend; the backends live in src/core/solvers
 * (HiGHS, primary; javascript-lp-solver, small rounds and a cross-check) and
 * src/platform/solver-pool (HiGHS on worker threads).
 * Coefficients are binary floats here by design; the clearing core recomputes every reported
 * amount in exact decimal from the decisions a backend returns.
 */
export interface LinearModel {
  readonly numCols: number;
  readonly numRows: number;
  /** Objective coefficients; the model is always maximised. */
  readonly colCost: Float64Array;
  readonly colLower: Float64Array;
  readonly colUpper: Float64Array;
  /** 1 for an integer column. */
  readonly integer: Uint8Array;
  readonly rowLower: Float64Array;
  readonly rowUpper: Float64Array;
  /** Compressed sparse columns. */
  readonly starts: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

export interface SolveRequest {
  readonly model: LinearModel;
  /** Solve the LP relaxation (and return row duals) instead of the MIP. */
  readonly relax?: boolean;
  /**
   * Milliseconds on the caller's clock (clearRound's `clock`, Date.now unless a caller chose
   * another) after which the backend must stop and return what it has.
   */
  readonly deadline: number;
  /** A feasible starting solution (the heuristic's). */
  readonly start?: Float64Array;
  readonly seed?: number;
  /** Stop when the relative gap to the backend's own bound is below this. */
  readonly relativeGap?: number;
}

export type SolveStatus = 'optimal' | 'feasible' | 'none';

export interface SolveOutcome {
  readonly status: SolveStatus;
  readonly colValue: Float64Array | null;
  readonly objective: number | null;
  /** Proven bound on the model's optimum (the LP value for a relaxation). */
  readonly bound: number | null;
  /** Row duals of an LP solve, in the maximisation sense (>= 0 on binding <= rows). */
  readonly rowDual: Float64Array | null;
}

export interface SolverBackend {
  readonly name: string;
  /**
   * How many solves it runs at once (a pool of worker threads runs one per thread); 1 when
   * absent. The MIP phase keeps this many parts in flight.
   */
  readonly concurrency?: number;
  solve(request: SolveRequest): Promise<SolveOutcome>;
}

/** Builds a LinearModel from column-wise parts. */
export class ModelBuilder {
  readonly colCost: number[] = [];
  readonly colUpper: number[] = [];
  readonly integer: number[] = [];
  readonly rowLower: number[] = [];
  readonly rowUpper: number[] = [];
  private readonly starts: number[] = [0];
  private readonly indices: number[] = [];
  private readonly values: number[] = [];

  addRow(lower: number, upper: number): number {
    this.rowLower.push(lower);
    this.rowUpper.push(upper);
    return this.rowLower.length - 1;
  }

  /** Entries must name distinct rows. */
  addCol(
    cost: number,
    upper: number,
    integer: boolean,
    rows: readonly number[],
    coefficients: readonly number[],
  ): number {
    this.colCost.push(cost);
    this.colUpper.push(upper);
    this.integer.push(integer ? 1 : 0);
    for (let k = 0; k < rows.length; k++) {
      this.indices.push(rows[k]);
      this.values.push(coefficients[k]);
    }
    this.starts.push(this.indices.length);
    return this.colCost.length - 1;
  }

  build(): LinearModel {
    return {
      numCols: this.colCost.length,
      numRows: this.rowLower.length,
      colCost: Float64Array.from(this.colCost),
      colLower: new Float64Array(this.colCost.length),
      colUpper: Float64Array.from(this.colUpper),
      integer: Uint8Array.from(this.integer),
      rowLower: Float64Array.from(this.rowLower),
      rowUpper: Float64Array.from(this.rowUpper),
      starts: Int32Array.from(this.starts),
      indices: Int32Array.from(this.indices),
      values: Float64Array.from(this.values),
    };
  }
}
