import type { MarketNode } from '../market/types.js';
import { firstFit } from './first-fit-scheduler.js';
import type {
  OpenJob,
  PlacementDecision,
  RoundDecision,
  Scheduler,
  SchedulerView,
  SeenLease,
  Share,
} from './scheduler.js';
import type { SimJob } from './workload.js';

/** Priority classes from the bid: higher runs first and may preempt lower preemptible work. */
export const PRIORITY_CLASSES = { fixed_now: 2, fixed_window: 1, preemptible: 0 } as const;

export function jobPriority(job: Pick<SimJob, 'preemptible' | 'window'>): number {
  if (job.preemptible) return PRIORITY_CLASSES.preemptible;
  return job.window ? PRIORITY_CLASSES.fixed_window : PRIORITY_CLASSES.fixed_now;
}

interface Reservation {
  /** The earliest time the reserved GPUs are needed on this node. */
  at: number;
  gpus: number;
}

/**
 * A priority queue with preemption and backfill, as Kueue or Slurm (priority/multifactor with
 * PreemptType=preempt/qos and the backfill scheduler) run one shared pool, on the same fleet,
 * notice and contiguity rules as the market:
 *
 * - Priority classes from the bid: fixed work that must run now (2) > fixed work with a window
 *   (1) > preemptible work (0); arrival order within a class.
 * - A job that does not fit on free GPUs may preempt running preemptible leases of a lower
 *   class that are past their protection (minHoldSeconds after start, as in the market), lowest
 *   class and youngest first; it starts when their notice (preemptionNoticeSeconds) ends.
 * - A job that still cannot start gets a reservation (up to `maxReservations` a round): the
 *   earliest time its GPUs come free given the run times of the leases holding them, and the
 *   nodes it will use then. A later job may start now only where it leaves that reservation
 *   whole: it ends before the reservation's time, or the node keeps enough GPUs for it.
 *
 * Release times are the leases' exact remaining run times (Slurm uses the jobs' time limits):
 * perfect estimates, the most favourable case for backfill. Windows are honoured as Slurm's
 * `--begin`/`--deadline` do (a job waits for its window to open and is dropped once it can no
 * longer finish in it). Users pay the nodes' reserve (list) price per GPU-hour run, as FIFO.
 */
export class PriorityScheduler implements Scheduler {
  readonly name = 'priority';
  readonly charging = 'list' as const;
  readonly honoursDeadlines = true;
  private readonly candidates = new Map<string, number[]>();

  constructor(
    private readonly nodes: readonly MarketNode[],
    private readonly noticeSeconds: number,
    private readonly maxReservations = 16,
  ) {}

  private nodesFor(job: SimJob, gpuModel: string): number[] {
    const key = `${gpuModel}\u0000${job.regions.join(',')}`;
    let list = this.candidates.get(key);
    if (!list) {
      list = [];
      this.nodes.forEach((node, i) => {
        if (node.gpuModel === gpuModel && (job.regions.length === 0 || job.regions.includes(node.region)))
          list!.push(i);
      });
      this.candidates.set(key, list);
    }
    return list;
  }

  decide(view: SchedulerView): RoundDecision {
    const { now } = view;
    const free = Int32Array.from(view.free);
    const reservations = new Map<number, Reservation>();
    const placements: PlacementDecision[] = [];
    const preempt: string[] = [];
    const chosen = new Set<string>();
    // Leases holding committed GPUs (allocated or running) and when they will give them back.
    const holding = view.leases.filter(
      (l) => l.record.lease.state === 'running' || l.record.lease.state === 'allocated',
    );
    const releaseAt = (l: SeenLease) => {
      const lease = l.record.lease;
      return (lease.startedAt ?? Math.max(now, l.record.startAfter)) + lease.runtimeSeconds;
    };
    const releases: { at: number; shares: readonly Share[] }[] = holding
      .map((l) => ({ at: releaseAt(l), shares: l.record.shares }))
      .sort((a, b) => a.at - b.at);
    /** Free GPUs on each node a job ending at `end` may use now without delaying a reservation. */
    const usable = (end: number): Int32Array => {
      if (reservations.size === 0) return free;
      const out = Int32Array.from(free);
      for (const [i, r] of reservations) {
        if (end <= r.at) continue;
        let released = 0;
        for (const rel of releases) {
          if (rel.at > r.at) break;
          for (const s of rel.shares) if (s.node === i) released += s.gpus;
        }
        out[i] = Math.max(0, Math.min(free[i], free[i] + released - r.gpus));
      }
      return out;
    };
    const queue = [...view.open].sort(
      (a, b) => jobPriority(b.job) - jobPriority(a.job) || a.job.arrival - b.job.arrival || a.index - b.index,
    );
    for (const open of queue) {
      const { job } = open;
      const end = now + open.remainingSeconds;
      const room = usable(end);
      const placed = this.placeNow(open, room) ?? this.placeByPreempting(open, room, view, chosen, now);
      if (placed) {
        for (const id of placed.victims) {
          chosen.add(id);
          preempt.push(id);
          const victim = view.leases.find((l) => l.record.id === id)!;
          for (const s of victim.record.shares) free[s.node] += s.gpus;
        }
        for (const s of placed.placement.shares) free[s.node] -= s.gpus;
        placements.push(placed.placement);
        continue;
      }
      if (reservations.size < this.maxReservations) this.reserve(job, releases, free, reservations);
    }
    return { placements, preempt, prices: null, solveMs: 0 };
  }

  private placeNow(
    { index, job }: OpenJob,
    room: Int32Array,
  ): { placement: PlacementDecision; victims: string[] } | null {
    for (const offer of job.offers) {
      const shares = firstFit(job.gpus, job.contiguity, this.nodesFor(job, offer.gpuModel), this.nodes, room);
      if (shares)
        return { placement: { jobIndex: index, gpuModel: offer.gpuModel, shares, limit: offer.maxPrice }, victims: [] };
    }
    return null;
  }

  /** Lower-class preemptible leases past their protection, lowest class and youngest first, until the gang fits. */
  private placeByPreempting(
    { index, job }: OpenJob,
    room: Int32Array,
    view: SchedulerView,
    chosen: ReadonlySet<string>,
    now: number,
  ): { placement: PlacementDecision; victims: string[] } | null {
    const priority = jobPriority(job);
    const victims = view.leases
      .filter(
        (l) =>
          !chosen.has(l.record.id) &&
          l.record.lease.state === 'running' &&
          l.record.job.preemptible &&
          jobPriority(l.record.job) < priority &&
          l.protectedUntil !== null &&
          l.protectedUntil <= now,
      )
      .sort(
        (a, b) =>
          jobPriority(a.record.job) - jobPriority(b.record.job) ||
          (b.record.lease.startedAt ?? 0) - (a.record.lease.startedAt ?? 0) ||
          (a.record.id < b.record.id ? -1 : 1),
      );
    if (victims.length === 0) return null;
    const withVictims = Int32Array.from(room);
    for (const v of victims) for (const s of v.record.shares) withVictims[s.node] += s.gpus;
    for (const offer of job.offers) {
      const shares = firstFit(job.gpus, job.contiguity, this.nodesFor(job, offer.gpuModel), this.nodes, withVictims);
      if (!shares) continue;
      // Only as many victims as the gang needs, node by node.
      const extra = Int32Array.from(room);
      const picked: string[] = [];
      for (const share of shares) {
        for (const v of victims) {
          if (extra[share.node] >= share.gpus) break;
          if (picked.includes(v.record.id) || !v.record.shares.some((s) => s.node === share.node)) continue;
          picked.push(v.record.id);
          for (const s of v.record.shares) extra[s.node] += s.gpus;
        }
        if (extra[share.node] < share.gpus) return null;
      }
      return {
        placement: {
          jobIndex: index,
          gpuModel: offer.gpuModel,
          shares,
          limit: offer.maxPrice,
          startAfter: now + this.noticeSeconds,
        },
        victims: picked,
      };
    }
    return null;
  }

  /** The earliest time the job's gang fits as leases end, and the nodes it takes then: held for it from now on. */
  private reserve(
    job: SimJob,
    releases: readonly { at: number; shares: readonly Share[] }[],
    free: Int32Array,
    reservations: Map<number, Reservation>,
  ): void {
    const avail = Int32Array.from(free);
    for (const [i, r] of reservations) avail[i] -= r.gpus;
    for (const rel of releases) {
      for (const s of rel.shares) avail[s.node] += s.gpus;
      for (const offer of job.offers) {
        const shares = firstFit(job.gpus, job.contiguity, this.nodesFor(job, offer.gpuModel), this.nodes, avail);
        if (!shares) continue;
        for (const s of shares) {
          const r = reservations.get(s.node);
          reservations.set(
            s.node,
            r ? { at: Math.min(r.at, rel.at), gpus: r.gpus + s.gpus } : { at: rel.at, gpus: s.gpus },
          );
        }
        return;
      }
    }
  }
}
