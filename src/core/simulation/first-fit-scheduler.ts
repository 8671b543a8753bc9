import type { MarketNode } from '../market/types.js';
import type { OpenJob, PlacementDecision, RoundDecision, Scheduler, SchedulerView, Share } from './scheduler.js';
import type { SimJob } from './workload.js';

/**
 * The two price-free baselines: jobs in arrival order, each placed on the first nodes that fit
 * (a job that does not fit is passed over, so small jobs behind a big one still start; that
 * makes FIFO a stronger opponent than strict head-of-line FIFO). No preemption, no prices.
 * With an owner per node it is the dedicated-reservations baseline: a job only ever runs on
 * its own tenant's nodes.
 */
export class FirstFitScheduler implements Scheduler {
  readonly honoursDeadlines = false;
  private readonly candidates = new Map<string, number[]>();

  constructor(
    readonly name: string,
    readonly charging: 'list' | 'reserved',
    private readonly nodes: readonly MarketNode[],
    private readonly nodeOwner: readonly (string | null)[] | null = null,
  ) {}

  private nodesFor(job: SimJob, gpuModel: string): number[] {
    const owner = this.nodeOwner ? job.tenant : '';
    const key = `${owner}\u0000${gpuModel}\u0000${job.regions.join(',')}`;
    let list = this.candidates.get(key);
    if (!list) {
      list = [];
      this.nodes.forEach((node, i) => {
        if (node.gpuModel !== gpuModel) return;
        if (this.nodeOwner && this.nodeOwner[i] !== job.tenant) return;
        if (job.regions.length > 0 && !job.regions.includes(node.region)) return;
        list!.push(i);
      });
      this.candidates.set(key, list);
    }
    return list;
  }

  decide(view: SchedulerView): RoundDecision {
    const free = view.free;
    const placements: PlacementDecision[] = [];
    // An upper bound per model that lets a full pool turn a long queue away without a scan.
    const modelFree = new Map<string, number>();
    this.nodes.forEach((node, i) => modelFree.set(node.gpuModel, (modelFree.get(node.gpuModel) ?? 0) + free[i]));
    for (const open of view.open) {
      const placement = this.place(open, free, modelFree);
      if (!placement) continue;
      for (const s of placement.shares) free[s.node] -= s.gpus;
      modelFree.set(placement.gpuModel, modelFree.get(placement.gpuModel)! - open.job.gpus);
      placements.push(placement);
    }
    return { placements, preempt: [], prices: null, solveMs: 0 };
  }

  private place({ index, job }: OpenJob, free: Int32Array, modelFree: Map<string, number>): PlacementDecision | null {
    for (const offer of job.offers) {
      if ((modelFree.get(offer.gpuModel) ?? 0) < job.gpus) continue;
      const shares = firstFit(job.gpus, job.contiguity, this.nodesFor(job, offer.gpuModel), this.nodes, free);
      if (shares) return { jobIndex: index, gpuModel: offer.gpuModel, shares, limit: offer.maxPrice };
    }
    return null;
  }
}

/** First-fit placement of a gang on candidate nodes (in fleet order), honouring contiguity. */
export function firstFit(
  gpus: number,
  contiguity: SimJob['contiguity'],
  candidates: readonly number[],
  nodes: readonly MarketNode[],
  free: Int32Array,
): Share[] | null {
  if (contiguity === 'node') {
    for (const i of candidates) if (free[i] >= gpus) return [{ node: i, gpus }];
    return null;
  }
  const groupOf = (i: number) =>
    contiguity === 'nvlink' ? nodes[i].nvlinkDomain : contiguity === 'block' ? nodes[i].block : '';
  const totals = new Map<string, number>();
  for (const i of candidates) {
    if (free[i] <= 0) continue;
    const g = groupOf(i);
    const total = (totals.get(g) ?? 0) + free[i];
    totals.set(g, total);
    if (total < gpus) continue;
    const shares: Share[] = [];
    let need = gpus;
    for (const k of candidates) {
      if (need === 0) break;
      if (free[k] <= 0 || groupOf(k) !== g) continue;
      const use = Math.min(need, free[k]);
      shares.push({ node: k, gpus: use });
      need -= use;
    }
    return shares;
  }
  return null;
}
