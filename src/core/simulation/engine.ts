import type { Money } from '../money/money.js';
import { checkWindow, requeuePreemptedBid } from '../market/bid-window.js';
import { dueEvent, newLease, ranSeconds, transition, type LeaseEvent } from '../market/lease-lifecycle.js';
import type { MarketNode } from '../market/types.js';
import { SettlementMeter } from './settlement-meter.js';
import type { LeaseRecord, OpenJob, RoundDecision, Scheduler, Share } from './scheduler.js';
import type { Workload } from './workload.js';

/**
 * The market loop in virtual time: one round per period, no database, no queue, no sleeping.
 * Each round: (1) apply the lease events the clock made due (completions, notice ends) and
 * start leases whose GPUs came free, (2) settle the period that just ended, (3) admit
 * arrivals, (4) drop bids whose window closed, (5) ask the scheduler, (6) apply its decision.
 */
export type JobOutcome = 'completed' | 'expired' | 'running' | 'waiting';

export interface SimRun {
  readonly scheduler: string;
  readonly charging: Scheduler['charging'];
  readonly nodes: readonly MarketNode[];
  readonly nodeOwner: readonly (string | null)[] | null;
  readonly horizonSeconds: number;
  readonly periodSeconds: number;
  readonly firstStart: Float64Array;
  readonly completedAt: Float64Array;
  readonly outcome: readonly JobOutcome[];
  readonly preemptions: Int32Array;
  /** GPU-seconds each job ran inside the horizon. */
  readonly gpuSeconds: Float64Array;
  /** Wall-clock seconds each job ran (not GPU-weighted) inside the horizon. */
  readonly runSeconds: Float64Array;
  readonly meter: SettlementMeter;
  readonly series: { readonly t: number[]; readonly busyGpus: number[]; readonly queue: number[]; readonly prices: Map<string, number[]> };
  readonly solveMs: number[];
}

export async function simulate(
  workload: Workload,
  nodes: readonly MarketNode[],
  scheduler: Scheduler,
  nodeOwner: readonly (string | null)[] | null = null,
): Promise<SimRun> {
  const { jobs, horizonSeconds: horizon } = workload;
  const { periodSeconds: period } = workload.params;
  const timing = { minHoldSeconds: workload.params.minHoldSeconds, preemptionNoticeSeconds: workload.params.preemptionNoticeSeconds };
  const epochMs = Date.parse(workload.epoch);
  const n = jobs.length;
  const remaining = Float64Array.from(jobs, (j) => j.runtimeSeconds);
  const firstStart = new Float64Array(n).fill(NaN);
  const completedAt = new Float64Array(n).fill(NaN);
  const outcome: JobOutcome[] = jobs.map(() => 'waiting');
  const preemptions = new Int32Array(n);
  const gpuSeconds = new Float64Array(n);
  const runSeconds = new Float64Array(n);
  const committedFree = Int32Array.from(nodes, (x) => x.gpus - x.unavailableGpus);
  const physicalFree = Int32Array.from(committedFree);
  const meter = new SettlementMeter(workload.params.feePercent);
  const series = { t: [] as number[], busyGpus: [] as number[], queue: [] as number[], prices: new Map<string, number[]>() };
  const solveMs: number[] = [];
  let busy = 0;
  let open: number[] = [];
  const live = new Map<string, LeaseRecord>();
  let ended: LeaseRecord[] = [];
  let waiting: LeaseRecord[] = [];
  let prices: ReadonlyMap<string, Money> | null = null;
  let nextArrival = 0;
  let leaseSeq = 0;

  const fits = (shares: readonly Share[], free: Int32Array) => shares.every((s) => free[s.node] >= s.gpus);
  const take = (shares: readonly Share[], free: Int32Array, sign: number) => {
    for (const s of shares) free[s.node] -= sign * s.gpus;
  };
  const gangGpus = (rec: LeaseRecord) => rec.job.gpus;
  const apply = (rec: LeaseRecord, event: LeaseEvent) => {
    const result = transition(rec.lease, event, timing);
    if (!result.ok) throw new Error(`simulator: lease ${rec.id}: ${result.error.message}`);
    rec.lease = result.lease;
  };
  const start = (rec: LeaseRecord, at: number) => {
    apply(rec, { type: 'start', at });
    take(rec.shares, physicalFree, 1);
    busy += gangGpus(rec);
    if (Number.isNaN(firstStart[rec.jobIndex])) firstStart[rec.jobIndex] = at;
  };
  const finish = (rec: LeaseRecord, at: number) => {
    const ran = ranSeconds(rec.lease, at);
    gpuSeconds[rec.jobIndex] += ran * gangGpus(rec);
    runSeconds[rec.jobIndex] += ran;
    take(rec.shares, physicalFree, -1);
    busy -= gangGpus(rec);
    live.delete(rec.id);
    ended.push(rec);
    return ran;
  };

  const processClock = (now: number) => {
    const due: { rec: LeaseRecord; event: LeaseEvent }[] = [];
    for (const rec of live.values()) {
      const event = dueEvent(rec.lease, now);
      if (event) due.push({ rec, event });
    }
    while (due.length > 0) {
      due.sort((a, b) => a.event.at - b.event.at || (a.rec.id < b.rec.id ? -1 : 1));
      const { rec, event } = due.shift()!;
      const wasRunning = rec.lease.state === 'running';
      apply(rec, event);
      const ran = finish(rec, event.at);
      const j = rec.jobIndex;
      if (event.type === 'complete') {
        if (wasRunning) take(rec.shares, committedFree, -1);
        remaining[j] = 0;
        completedAt[j] = event.at;
        outcome[j] = 'completed';
      } else {
        const next = requeuePreemptedBid({ preemptible: true, remainingSeconds: remaining[j], window: rec.job.window }, ran, event.at);
        remaining[j] = next.remainingSeconds;
        if (next.state === 'completed') (outcome[j] = 'completed'), (completedAt[j] = event.at);
        else if (next.state === 'expired' && scheduler.honoursDeadlines) outcome[j] = 'expired';
        else (outcome[j] = 'waiting'), open.push(j);
      }
      const stillWaiting: LeaseRecord[] = [];
      for (const w of waiting) {
        if (!fits(w.shares, physicalFree)) {
          stillWaiting.push(w);
          continue;
        }
        start(w, event.at);
        const e = dueEvent(w.lease, now);
        if (e) due.push({ rec: w, event: e });
      }
      waiting = stillWaiting;
    }
    open.sort((a, b) => jobs[a].arrival - jobs[b].arrival || a - b);
  };

  const settle = (from: number, to: number) => {
    for (const rec of [...live.values(), ...ended]) {
      const started = rec.lease.startedAt;
      if (started === null) continue;
      const seconds = Math.min(to, rec.lease.endedAt ?? to) - Math.max(from, started);
      if (seconds > 0) meter.record(rec, seconds, nodes, prices, scheduler.charging);
    }
    ended = [];
  };

  for (let round = 0, now = 0; now < horizon; round++, now += period) {
    processClock(now);
    if (round > 0) settle(now - period, now);
    while (nextArrival < n && jobs[nextArrival].arrival <= now) open.push(nextArrival++);
    const eligible: OpenJob[] = [];
    const stillOpen: number[] = [];
    for (const j of open) {
      const job = jobs[j];
      const check = checkWindow(job.window, remaining[j], now);
      if (check.eligible || (!scheduler.honoursDeadlines && now >= (job.window?.notBefore ?? 0))) {
        eligible.push({ index: j, job, remainingSeconds: remaining[j] });
        stillOpen.push(j);
      } else if (check.reason === 'window_closed') outcome[j] = 'expired';
      else stillOpen.push(j);
    }
    open = stillOpen;
    const decision: RoundDecision = await scheduler.decide({
      now,
      nowIso: new Date(epochMs + now * 1000).toISOString(),
      roundIndex: round,
      nodes,
      free: Int32Array.from(committedFree),
      open: eligible,
      leases: [...live.values()].filter((r) => r.lease.state !== 'preempting'),
    });
    solveMs.push(decision.solveMs);
    prices = decision.prices;
    for (const id of decision.preempt) {
      const rec = live.get(id);
      if (!rec) throw new Error(`simulator: ${scheduler.name} preempted unknown lease ${id}`);
      apply(rec, { type: 'preempt', at: now });
      take(rec.shares, committedFree, -1);
      preemptions[rec.jobIndex]++;
    }
    const placed = new Set<number>();
    for (const p of decision.placements) {
      if (!fits(p.shares, committedFree)) throw new Error(`simulator: ${scheduler.name} over-allocated a node for job ${jobs[p.jobIndex].id}`);
      take(p.shares, committedFree, 1);
      const job = jobs[p.jobIndex];
      const rec: LeaseRecord = {
        id: `l-${++leaseSeq}`,
        jobIndex: p.jobIndex,
        job,
        lease: newLease({ id: `l-${leaseSeq}`, bidId: job.id, preemptible: job.preemptible, runtimeSeconds: remaining[p.jobIndex], allocatedAt: now }),
        shares: p.shares,
        gpuModel: p.gpuModel,
        limit: p.limit,
      };
      live.set(rec.id, rec);
      placed.add(p.jobIndex);
      outcome[p.jobIndex] = 'running';
      if (fits(rec.shares, physicalFree)) start(rec, now);
      else waiting.push(rec);
    }
    if (placed.size > 0) open = open.filter((j) => !placed.has(j));
    series.t.push(now);
    series.busyGpus.push(busy);
    series.queue.push(open.length);
    if (prices) {
      for (const [key, price] of prices) {
        if (!series.prices.has(key)) series.prices.set(key, new Array<number>(series.t.length - 1).fill(NaN));
        series.prices.get(key)!.push(price.toNumber());
      }
      for (const values of series.prices.values()) if (values.length < series.t.length) values.push(NaN);
    }
  }
  const lastRound = Math.ceil(horizon / period) * period;
  processClock(horizon);
  settle(lastRound - period, horizon);
  for (const rec of [...live.values()]) {
    const ran = ranSeconds(rec.lease, horizon);
    gpuSeconds[rec.jobIndex] += ran * gangGpus(rec);
    runSeconds[rec.jobIndex] += ran;
  }
  return {
    scheduler: scheduler.name,
    charging: scheduler.charging,
    nodes,
    nodeOwner,
    horizonSeconds: horizon,
    periodSeconds: period,
    firstStart,
    completedAt,
    outcome,
    preemptions,
    gpuSeconds,
    runSeconds,
    meter,
    series,
    solveMs,
  };
}

