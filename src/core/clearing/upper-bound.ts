import { ModelBuilder } from '../solvers/solver-port.js';
import type { SolverBackend } from '../solvers/solver-port.js';
import { objectiveOffset } from './round-problem.js';
import type { RoundProblem } from './round-problem.js';

/**
 * Phase 5 (bound): a proven upper bound on welfare, the LP relaxation of the unpruned problem,
 * solved in a form small enough for 50,000 bids.
 *
 * In the LP relaxation, contiguity only decides which nodes a bid may draw on: a fractional
 * gang spread over several groups is the same as a flow over the union of those groups (split
 * each group's flow in proportion). So each bid-offer becomes one column feeding the flow row of
 * its eligible node set, and nodes that every set treats alike (same reserve, same sets) merge
 * into one "atom" with their capacities summed. The optimum equals the per-bid per-node LP.
 */
export interface RelaxedSolution {
  /** Proven upper bound on welfare. */
  readonly bound: number;
  /** LP value of each bid's options, bid by bid, option by option. */
  readonly bidOptions: readonly Float64Array[];
  /** LP value of keeping each flexible lease. */
  readonly keep: Float64Array;
  /** The LP's plan: per bid and option, the GPUs its class may draw from each node's atom. */
  readonly plan: RelaxedPlan;
}

/**
 * Where the LP sends each class of bids (same eligible nodes, contiguity and gang): GPUs per
 * (atom, class). A packing that follows it keeps scarce nodes (an NVLink rack, a compliant
 * provider) for the classes the LP gave them to.
 */
export interface RelaxedPlan {
  readonly atomOf: Int32Array;
  /** Per bid, per option: its class. */
  readonly classOf: readonly Int32Array[];
  /** GPUs of atom `a` planned for class `c`, keyed `a * classCount + c`. */
  readonly flow: Map<number, number>;
  readonly classCount: number;
}

export async function upperBound(problem: RoundProblem, backend: SolverBackend, deadline: number): Promise<RelaxedSolution | null> {
  const classIndex = new Map<string, number>();
  const classNodes: (readonly number[])[] = [];
  const bidClasses = problem.bids.map((b) =>
    b.options.map((option) => {
      const key = `${option.eligibilityKey}|${b.bid.contiguity}|${b.bid.contiguity === 'none' ? 0 : b.bid.gpus}`;
      let c = classIndex.get(key);
      if (c === undefined) {
        c = classNodes.length;
        classIndex.set(key, c);
        classNodes.push(option.groups.flatMap((g) => g.nodes));
      }
      return c;
    }),
  );

  const membership: number[][] = problem.nodes.map(() => []);
  classNodes.forEach((nodes, c) => nodes.forEach((n) => membership[n].push(c)));
  const atomIndex = new Map<string, number>();
  const atomOf = new Int32Array(problem.nodes.length);
  const atoms: { reserve: number; capacity: number; classes: number[] }[] = [];
  for (const n of problem.nodes) {
    const key = `${n.reserve}|${membership[n.index].join(',')}`;
    let a = atomIndex.get(key);
    if (a === undefined) {
      a = atoms.length;
      atomIndex.set(key, a);
      atoms.push({ reserve: n.reserve, capacity: 0, classes: membership[n.index] });
    }
    atoms[a].capacity += n.capacity;
    atomOf[n.index] = a;
  }

  const m = new ModelBuilder();
  const bidCols: number[][] = [];
  const classRow = classNodes.map(() => m.addRow(0, 0));
  const atomRow = atoms.map((a) => m.addRow(-Infinity, a.capacity));
  problem.bids.forEach((b, i) => {
    const bidRow = b.options.length > 1 ? [m.addRow(-Infinity, 1)] : [];
    bidCols[i] = b.options.map((option, o) => m.addCol(option.value * b.bid.gpus, 1, false, [classRow[bidClasses[i][o]], ...bidRow], [b.bid.gpus, 1]));
  });
  const leaseCols = problem.flexibleLeases.map((lease) => {
    const perAtom = new Map<number, number>();
    for (const s of lease.shares) perAtom.set(atomOf[s.node], (perAtom.get(atomOf[s.node]) ?? 0) + s.gpus);
    return m.addCol(lease.keepGain, 1, false, [...perAtom.keys()].map((a) => atomRow[a]), [...perAtom.values()]);
  });
  const flowCols: { key: number; col: number }[] = [];
  atoms.forEach((atom, a) => {
    for (const c of atom.classes) flowCols.push({ key: a * classNodes.length + c, col: m.addCol(-atom.reserve, Infinity, false, [atomRow[a], classRow[c]], [1, -1]) });
  });

  const outcome = await backend.solve({ model: m.build(), relax: true, deadline });
  if (outcome.status !== 'optimal' || outcome.bound === null || !outcome.colValue) return null;
  const x = outcome.colValue;
  return {
    bound: outcome.bound + objectiveOffset(problem),
    bidOptions: bidCols.map((cols) => Float64Array.from(cols, (c) => x[c])),
    keep: Float64Array.from(leaseCols, (c) => x[c]),
    plan: {
      atomOf,
      classOf: bidClasses.map((cs) => Int32Array.from(cs)),
      flow: new Map(flowCols.filter((f) => x[f.col] > 1e-9).map((f) => [f.key, x[f.col]])),
      classCount: classNodes.length,
    },
  };
}
