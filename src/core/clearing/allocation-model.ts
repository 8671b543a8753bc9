import { contiguityGroupKey } from '../market/node-eligibility.js';
import type { Allocation, Assignment, NodeGpus } from './allocation.js';
import { ModelBuilder } from './solver-port.js';
import type { LinearModel } from './solver-port.js';
import type { Group, RoundProblem } from './round-problem.js';

/**
 * Phase 3 (allocation): the compact MIP of one part of a round. A gang bound to one node is a
 * binary column on that node's capacity row. A gang that may span nodes (nvlink, block, none)
 * is a binary column per group plus integer per-node flow columns shared by every bid with the
 * same eligible node set, so the model grows with groups, not with bids x nodes. Groups are
 * pruned to a handful per bid and offer (environment.md measured ~16 leaving the LP bound
 * unchanged; 8 solved faster here at equal welfare inside a 1 s budget); the heuristic's own
 * choice is always kept so its solution is a feasible start.
 */
export interface ModelScope {
  readonly bids: readonly number[];
  /** Flexible lease indices; all their nodes must be in scope. */
  readonly leases: readonly number[];
  readonly nodeInScope: Uint8Array;
  /** GPUs per node this part may use, when gangs or leases outside it hold some; default: the node's capacity. */
  readonly capacity?: Int32Array;
}

interface BidColumn {
  readonly col: number;
  readonly bid: number;
  readonly option: number;
  /** The node for a one-node column; -1 when the column feeds a flow row. */
  readonly node: number;
  readonly flowRow: number;
}

export interface AllocationModel {
  readonly model: LinearModel;
  readonly start: Float64Array;
  readonly pruned: boolean;
  decode(colValue: Float64Array): Allocation;
}

export const CANDIDATES_PER_OPTION = 8;
const CHEAPEST_KEPT = 3;

/** Cheapest few plus an even spread over the rest, offset per bid so bids do not all crowd the same nodes. */
function pruneGroups(groups: Group[], bid: number, keep: string | undefined): Group[] {
  if (groups.length <= CANDIDATES_PER_OPTION) return groups;
  const chosen = new Set<number>();
  for (let i = 0; i < CHEAPEST_KEPT; i++) chosen.add(i);
  const rest = groups.length - CHEAPEST_KEPT;
  const spread = CANDIDATES_PER_OPTION - CHEAPEST_KEPT;
  const offset = (bid * 7919) % rest;
  for (let k = 0; k < spread; k++) chosen.add(CHEAPEST_KEPT + ((offset + Math.floor((k * rest) / spread)) % rest));
  const kept = [...chosen].sort((a, b) => a - b).map((i) => groups[i]);
  if (keep !== undefined && !kept.some((g) => g.key === keep)) kept.push(groups.find((g) => g.key === keep)!);
  return kept;
}

function capacityOf(problem: RoundProblem, scope: ModelScope, node: number): number {
  return scope.capacity ? scope.capacity[node] : problem.nodes[node].capacity;
}

function scopedGroups(problem: RoundProblem, groups: readonly Group[], scope: ModelScope, gpus: number): Group[] {
  const out: Group[] = [];
  for (const g of groups) {
    if (!scope.capacity && g.nodes.every((n) => scope.nodeInScope[n])) out.push(g);
    else {
      const nodes = g.nodes.filter((n) => scope.nodeInScope[n] && capacityOf(problem, scope, n) > 0);
      const capacity = nodes.reduce((t, n) => t + capacityOf(problem, scope, n), 0);
      if (capacity >= gpus) out.push({ key: g.key, nodes, capacity });
    }
  }
  return out;
}

export function buildAllocationModel(
  problem: RoundProblem,
  scope: ModelScope,
  warm: readonly Assignment[],
  warmPreempted: readonly number[] = [],
): AllocationModel {
  const m = new ModelBuilder();
  const nodeRow = new Map<number, number>();
  problem.nodes.forEach((n) => {
    if (scope.nodeInScope[n.index]) nodeRow.set(n.index, m.addRow(-Infinity, capacityOf(problem, scope, n.index)));
  });
  const leaseCols = scope.leases.map((l) => {
    const lease = problem.flexibleLeases[l];
    return m.addCol(
      lease.keepGain,
      1,
      true,
      lease.shares.map((s) => nodeRow.get(s.node)!),
      lease.shares.map((s) => s.gpus),
    );
  });

  const warmByBid = new Map(warm.map((a) => [a.bid, a]));
  const flowRows = new Map<string, { row: number; nodes: readonly number[] }>();
  const bidCols: BidColumn[] = [];
  const startCols = new Map<number, number>();
  const startFlows: NodeGpus[][] = [];
  let pruned = false;
  const flowNodes = new Map<number, readonly number[]>();

  const flowCol = new Map<string, number>();
  for (const b of scope.bids) {
    const { bid, options } = problem.bids[b];
    const w = warmByBid.get(b);
    const chosen = options.map((option, o) => {
      const all = scopedGroups(problem, option.groups, scope, bid.gpus);
      const warmKey =
        w && w.option === o ? contiguityGroupKey(problem.nodes[w.shares[0].node].node, bid.contiguity) : undefined;
      const groups = pruneGroups(all, b, warmKey);
      if (groups.length < all.length) pruned = true;
      return { option, o, groups, warmKey };
    });
    const total = chosen.reduce((t, c) => t + c.groups.length, 0);
    // One bid, at most one candidate: a row only when there is more than one column to choose from.
    const bidRow = total > 1 ? [m.addRow(-Infinity, 1)] : [];
    for (const { option, o, groups, warmKey } of chosen) {
      for (const group of groups) {
        let col: number;
        let node = -1;
        let flowRow = -1;
        if (group.nodes.length === 1) {
          node = group.nodes[0];
          col = m.addCol(
            (option.value - problem.nodes[node].reserve) * bid.gpus,
            1,
            true,
            [nodeRow.get(node)!, ...bidRow],
            [bid.gpus, 1],
          );
        } else {
          const key = `${option.eligibilityKey}#${group.key}`;
          let flow = flowRows.get(key);
          if (!flow) {
            flow = { row: m.addRow(0, 0), nodes: group.nodes };
            flowRows.set(key, flow);
            flowNodes.set(flow.row, flow.nodes);
            startFlows[flow.row] = [];
            for (const n of group.nodes)
              flowCol.set(
                `${flow.row}:${n}`,
                m.addCol(
                  -problem.nodes[n].reserve,
                  capacityOf(problem, scope, n),
                  true,
                  [nodeRow.get(n)!, flow.row],
                  [1, -1],
                ),
              );
          }
          flowRow = flow.row;
          col = m.addCol(option.value * bid.gpus, 1, true, [flowRow, ...bidRow], [bid.gpus, 1]);
        }
        bidCols.push({ col, bid: b, option: o, node, flowRow });
        if (warmKey === group.key) {
          startCols.set(col, 1);
          if (flowRow >= 0) startFlows[flowRow].push(...w!.shares);
        }
      }
    }
  }

  const model = m.build();
  const start = new Float64Array(model.numCols);
  const displaced = new Set(warmPreempted);
  scope.leases.forEach((l, i) => (start[leaseCols[i]] = displaced.has(l) ? 0 : 1));
  for (const [c, v] of startCols) start[c] = v;
  flowRows.forEach((flow) => {
    for (const s of startFlows[flow.row]) start[flowCol.get(`${flow.row}:${s.node}`)!] += s.gpus;
  });

  return {
    model,
    start,
    pruned,
    decode(colValue) {
      const preempted = scope.leases.filter((_, i) => colValue[leaseCols[i]] < 0.5);
      const assignments: Assignment[] = [];
      const byFlow = new Map<number, BidColumn[]>();
      for (const c of bidCols) {
        if (colValue[c.col] < 0.5) continue;
        if (c.node >= 0)
          assignments.push({
            bid: c.bid,
            option: c.option,
            shares: [{ node: c.node, gpus: problem.bids[c.bid].bid.gpus }],
          });
        else {
          const list = byFlow.get(c.flowRow);
          if (list) list.push(c);
          else byFlow.set(c.flowRow, [c]);
        }
      }
      for (const [row, selected] of byFlow) {
        const supply = flowNodes
          .get(row)!
          .map((n) => ({ node: n, gpus: Math.round(colValue[flowCol.get(`${row}:${n}`)!]) }));
        for (const c of selected)
          assignments.push({ bid: c.bid, option: c.option, shares: take(supply, problem.bids[c.bid].bid.gpus) });
      }
      return { assignments, preempted };
    },
  };
}

/** Cuts `gpus` off the front of the flow supply: any split is valid inside one group. */
function take(supply: { node: number; gpus: number }[], gpus: number): NodeGpus[] {
  const shares: NodeGpus[] = [];
  for (const s of supply) {
    if (gpus === 0) break;
    const t = Math.min(s.gpus, gpus);
    if (t <= 0) continue;
    shares.push({ node: s.node, gpus: t });
    s.gpus -= t;
    gpus -= t;
  }
  if (gpus !== 0) throw new Error('allocation model: flow columns do not cover the selected gangs');
  return shares;
}
