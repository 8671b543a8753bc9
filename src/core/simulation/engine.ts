import { maxMoney, type Money } from '../money/money.js';
import { checkWindow, requeuePreemptedBid } from '../market/bid-window.js';
import { dueEvent, ranSeconds, transition, type LeaseEvent } from '../market/lease-lifecycle.js';
import { commitRound, type CommitLease, type CommitNode, type CommitState } from '../market/round-commit.js';
import { leasesSeenByRound } from '../market/round-leases.js';
import { poolKey, type MarketNode } from '../market/types.js';
import { leaseUnitPrice } from '../settlement/settle-lease.js';
import { SettlementMeter } from './settlement-meter.js';
import type {
  LeasePricing,
  LeaseRecord,
  OpenJob,
  RoundDecision,
  RoundLeasePrice,
  Scheduler,
  Share,
} from './scheduler.js';
import { flexibilityClass, type FlexibilityClass, type Workload } from './workload.js';

/**
 * The market loop in virtual time: one round per period, no database, no queue, no sleeping.
 * Each round: (1) apply what the clock made due, with the pure lease rules: completions,
 * notices that ended (the bid requeued or expired by the bid-window rule), and leases whose
 * start time came and whose GPUs are free; (2) settle the period that just ended at the prices
 * the last round set; (3) admit arrivals; (4) drop bids whose window closed; (5) ask the
 * scheduler, showing it the leases the service's snapshot would; (6) apply its decision:
 * notices, win-backs, new leases, repricing.
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
  /** For expired jobs: the run time they still needed when they expired. */
  readonly remainingAtEnd: Float64Array;
  readonly preemptions: Int32Array;
  /** Leases that won their place back during their notice. */
  readonly winBacks: number;
  /** GPU-seconds each job ran, until the run ended (the horizon, or the end of the drain after it). */
  readonly gpuSeconds: Float64Array;
  /** Wall-clock seconds each job ran (not GPU-weighted), until the run ended. */
  readonly runSeconds: Float64Array;
  /**
   * Every stretch a lease ran: its job, start and end (virtual seconds), GPUs and limit (the value it bid for that
   * model).
   */
  readonly intervals: readonly RunInterval[];
  /** Where the run ended: the horizon, or later when it drained past it (see SimulateOptions.drain). */
  readonly endSeconds: number;
  readonly meter: SettlementMeter;
  /**
   * When each flexibility class ran and what it paid, by UTC hour of day (floating point: for charts and diagnosis,
   * not for money).
   */
  readonly usageByHour: ReadonlyMap<FlexibilityClass, ClassUsage>;
  /**
   * Per round: time, busy GPUs, bids waiting; per pool (poolKey), the pool index (the published
   * clearing price) and the VWAP of the unit prices paid on its nodes with the GPUs it weighs
   * (NaN / 0 where the round had none). Floating point: for charts, not for money.
   */
  readonly series: {
    readonly t: number[];
    readonly busyGpus: number[];
    readonly queue: number[];
    readonly prices: Map<string, number[]>;
    readonly vwap: Map<string, number[]>;
    readonly soldGpus: Map<string, number[]>;
  };
  /** The market's price figures summed over its rounds; null for baselines without prices. */
  readonly pricing: RunPricing | null;
  readonly solveMs: number[];
  /** Round indexes whose clearing stopped at its wall-clock time limit. */
  readonly roundsAtTimeLimit: number[];
  /** Set when a stop rule ended the run early: the round at which it stopped. */
  readonly stoppedAt: number | null;
}

export interface RunInterval {
  readonly jobIndex: number;
  readonly start: number;
  readonly end: number;
  readonly gpus: number;
  readonly limit: Money;
}

/**
 * The last deadline of any windowed job: a run that drains goes on past its horizon (no new
 * arrivals) until then, so every windowed bid's deadline falls inside the run and a deadline
 * hit is measured over all of them, not only those due before the horizon.
 */
export function lastDeadline(workload: Pick<Workload, 'jobs' | 'horizonSeconds'>): number {
  return workload.jobs.reduce((m, j) => Math.max(m, j.window?.deadline ?? 0), workload.horizonSeconds);
}

export interface RunPricing {
  /** Bid-rounds lost: one per losing bid per round. */
  readonly losers: number;
  /** Of them, listed by the core as paradoxically rejected (each bid once per round), by reason. */
  readonly paradoxicallyRejected: Readonly<Record<string, number>>;
  /** Lease-rounds whose unit price from the core differs from the settlement rule's: 0 when coherent. */
  readonly unitPriceMismatches: number;
  /** Rounds by how the core priced them (stats.pricing.method). */
  readonly methods: Readonly<Record<string, number>>;
}

export interface ClassUsage {
  readonly gpuSeconds: Float64Array;
  readonly spend: Float64Array;
  /** What the same GPU-seconds would have cost at the leases' own limits. */
  readonly limitSpend: Float64Array;
  /** GPU-seconds on nodes priced exactly at their reserve (no rent), whatever the lease paid. */
  readonly atReserveGpuSeconds: Float64Array;
}

export interface SimulateOptions {
  readonly nodeOwner?: readonly (string | null)[] | null;
  /** Checked after every round; true ends the run (its figures are then partial). */
  readonly stop?: (progress: RoundProgress) => boolean;
  /**
   * Go on past the horizon, without new arrivals, until the last deadline has passed (or
   * nothing is left to run), so every windowed bid has its whole window. Default true; figures
   * "inside the horizon" (utilisation, GPU-hours served) are still cut at the horizon.
   */
  readonly drain?: boolean;
}

export interface RoundProgress {
  readonly now: number;
  readonly firstStart: Float64Array;
  readonly completedAt: Float64Array;
  readonly outcome: readonly JobOutcome[];
}

/** The simulator has no tenants: the commit step's events name this one, and the engine reads none of them. */
const SIMULATED_TENANT = 'simulated';

/** Appends a round's value to a per-pool series of `rounds` values, padding a pool first seen late with `missing`. */
function push(series: Map<string, number[]>, key: string, value: number, missing: number, rounds: number): void {
  let values = series.get(key);
  if (!values) series.set(key, (values = new Array<number>(rounds - 1).fill(missing)));
  values.push(value);
}

export async function simulate(
  workload: Workload,
  nodes: readonly MarketNode[],
  scheduler: Scheduler,
  options: SimulateOptions = {},
): Promise<SimRun> {
  const { jobs, horizonSeconds: horizon } = workload;
  const { periodSeconds: period } = workload.params;
  const nodeOwner = options.nodeOwner ?? null;
  const timing = {
    minHoldSeconds: workload.params.minHoldSeconds,
    preemptionNoticeSeconds: workload.params.preemptionNoticeSeconds,
  };
  const epochMs = Date.parse(workload.epoch);
  const n = jobs.length;
  const remaining = Float64Array.from(jobs, (j) => j.runtimeSeconds);
  const firstStart = new Float64Array(n).fill(NaN);
  const completedAt = new Float64Array(n).fill(NaN);
  const remainingAtEnd = new Float64Array(n);
  const outcome: JobOutcome[] = jobs.map(() => 'waiting');
  const preemptions = new Int32Array(n);
  const gpuSeconds = new Float64Array(n);
  const runSeconds = new Float64Array(n);
  const intervals: RunInterval[] = [];
  const end = options.drain === false ? horizon : lastDeadline(workload);
  const capacity = Int32Array.from(nodes, (x) => x.gpus - x.unavailableGpus);
  /** Capacity minus allocated and running leases: a lease in its notice has handed its GPUs on. */
  const committedFree = Int32Array.from(capacity);
  /** Capacity minus leases that hold GPUs now (running or in their notice). */
  const physicalFree = Int32Array.from(capacity);
  const nodeGpus = new Map(nodes.map((x, i) => [x.id, capacity[i]]));
  const meter = new SettlementMeter(workload.params.feePercent);
  const series = {
    t: [] as number[],
    busyGpus: [] as number[],
    queue: [] as number[],
    prices: new Map<string, number[]>(),
    vwap: new Map<string, number[]>(),
    soldGpus: new Map<string, number[]>(),
  };
  let runPricing: {
    losers: number;
    paradoxicallyRejected: Record<string, number>;
    unitPriceMismatches: number;
    methods: Record<string, number>;
  } | null = null;
  const solveMs: number[] = [];
  const roundsAtTimeLimit: number[] = [];
  let winBacks = 0;
  let busy = 0;
  let open: number[] = [];
  /** Live leases in allocation order (a Map keeps insertion order). */
  const live = new Map<string, LeaseRecord>();
  let ended: LeaseRecord[] = [];
  let prices: ReadonlyMap<string, Money> | null = null;
  let nextArrival = 0;
  let leaseSeq = 0;
  let stoppedAt: number | null = null;

  const fits = (shares: readonly Share[], free: Int32Array) => shares.every((s) => free[s.node] >= s.gpus);
  const take = (shares: readonly Share[], free: Int32Array, sign: number) => {
    for (const s of shares) free[s.node] -= sign * s.gpus;
  };
  const apply = (rec: LeaseRecord, event: LeaseEvent) => {
    const result = transition(rec.lease, event, timing);
    if (!result.ok) throw new Error(`simulator: lease ${rec.id}: ${result.error.message}`);
    rec.lease = result.lease;
  };
  const start = (rec: LeaseRecord, at: number) => {
    apply(rec, { type: 'start', at });
    take(rec.shares, physicalFree, 1);
    busy += rec.job.gpus;
    if (Number.isNaN(firstStart[rec.jobIndex])) firstStart[rec.jobIndex] = at;
  };
  const credit = (rec: LeaseRecord, until: number) => {
    const ran = ranSeconds(rec.lease, until);
    if (ran > 0)
      intervals.push({
        jobIndex: rec.jobIndex,
        start: rec.lease.startedAt!,
        end: rec.lease.startedAt! + ran,
        gpus: rec.job.gpus,
        limit: rec.limit,
      });
    gpuSeconds[rec.jobIndex] += ran * rec.job.gpus;
    runSeconds[rec.jobIndex] += ran;
    return ran;
  };
  /** The settlement memo's key: the shares' (node price, GPUs) and the cap. */
  const pricingKey = (shares: readonly Share[], nodePrices: readonly Money[], cap: Money) =>
    `${shares.map((s, k) => `${nodePrices[k].toString()}x${s.gpus}`).join(',')}|${cap.toString()}`;
  /**
   * A lease's prices for a period: its shares' node prices, capped at `cap` (the lease-level rule of
   * settle-lease.ts).
   */
  const leasePricing = (rec: Pick<LeaseRecord, 'shares'>, nodePrices: readonly Money[], cap: Money): LeasePricing => {
    const { unitPrice, uplift } = leaseUnitPrice(
      cap,
      rec.shares.map((s, k) => ({ gpus: s.gpus, nodePrice: nodePrices[k] })),
    );
    return { nodePrices, cap, unitPrice, uplift, key: pricingKey(rec.shares, nodePrices, cap) };
  };
  /** The round's own prices for a lease (the market's round outcome), capped at the lease's limit. */
  const roundPricing = (rec: LeaseRecord, priced: RoundLeasePrice): LeasePricing => ({
    nodePrices: priced.nodePrices,
    cap: rec.limit,
    unitPrice: priced.unitPrice,
    uplift: priced.uplift,
    key: pricingKey(rec.shares, priced.nodePrices, rec.limit),
  });
  /**
   * Prices where the scheduler does not reprice: each node at its reserve with no cap that binds
   * (list); each node at its pool's price, capped at the lease's limit (clearing); nothing (reserved).
   */
  const defaultPricing = (rec: Pick<LeaseRecord, 'shares' | 'limit'>): LeasePricing | null => {
    if (scheduler.charging === 'reserved') return null;
    if (scheduler.charging === 'list') {
      const reserves = rec.shares.map((s) => nodes[s.node].reservePrice);
      return leasePricing(rec, reserves, reserves.reduce(maxMoney));
    }
    const nodePrices = rec.shares.map((s) => {
      const node = nodes[s.node];
      return prices?.get(poolKey(node.gpuModel, node.region)) ?? node.reservePrice;
    });
    return leasePricing(rec, nodePrices, rec.limit);
  };

  const endLease = (rec: LeaseRecord, event: LeaseEvent) => {
    const wasRunning = rec.lease.state === 'running';
    apply(rec, event);
    const ran = credit(rec, event.at);
    take(rec.shares, physicalFree, -1);
    if (wasRunning) take(rec.shares, committedFree, -1);
    busy -= rec.job.gpus;
    live.delete(rec.id);
    ended.push(rec);
    const j = rec.jobIndex;
    if (event.type === 'complete') {
      remaining[j] = 0;
      completedAt[j] = event.at;
      outcome[j] = 'completed';
      return;
    }
    const next = requeuePreemptedBid(
      { preemptible: true, remainingSeconds: remaining[j], window: rec.job.window },
      ran,
      event.at,
    );
    remaining[j] = next.remainingSeconds;
    if (next.state === 'completed') ((outcome[j] = 'completed'), (completedAt[j] = event.at));
    else if (next.state === 'expired' && scheduler.honoursDeadlines)
      ((outcome[j] = 'expired'), (remainingAtEnd[j] = next.remainingSeconds));
    else ((outcome[j] = 'waiting'), open.push(j));
  };

  /**
   * Lease events due by `now`, in time order; an allocated lease starts at max(startAfter, the moment its GPUs come
   * free).
   */
  const processClock = (now: number) => {
    const due: { rec: LeaseRecord; event: LeaseEvent }[] = [];
    for (const rec of live.values()) {
      const event = dueEvent(rec.lease, now);
      if (event) due.push({ rec, event });
    }
    let clock = -Infinity;
    for (;;) {
      due.sort((a, b) => a.event.at - b.event.at || (a.rec.id < b.rec.id ? -1 : 1));
      const nextEnd = due.length > 0 ? due[0].event.at : Infinity;
      let started = false;
      for (const rec of live.values()) {
        if (rec.lease.state !== 'allocated') continue;
        const at = Math.max(rec.startAfter, clock);
        if (at > now || at > nextEnd || !fits(rec.shares, physicalFree)) continue;
        start(rec, at);
        const event = dueEvent(rec.lease, now);
        if (event) due.push({ rec, event });
        started = true;
      }
      if (started) continue;
      const next = due.shift();
      if (!next) break;
      clock = next.event.at;
      endLease(next.rec, next.event);
    }
    open.sort((a, b) => jobs[a].arrival - jobs[b].arrival || a - b);
  };

  const usageByHour = new Map<FlexibilityClass, ClassUsage>();
  const usage = (rec: LeaseRecord, pricing: LeasePricing, seconds: number, hour: number) => {
    const c = flexibilityClass(rec.job);
    let u = usageByHour.get(c);
    if (!u)
      usageByHour.set(
        c,
        (u = {
          gpuSeconds: new Float64Array(24),
          spend: new Float64Array(24),
          limitSpend: new Float64Array(24),
          atReserveGpuSeconds: new Float64Array(24),
        }),
      );
    const unit = pricing.unitPrice.toNumber();
    const limit = rec.limit.toNumber();
    rec.shares.forEach((share, k) => {
      const gs = share.gpus * seconds;
      u.gpuSeconds[hour] += gs;
      u.spend[hour] += (unit * gs) / 3600;
      u.limitSpend[hour] += (limit * gs) / 3600;
      if (pricing.nodePrices[k].equals(nodes[share.node].reservePrice)) u.atReserveGpuSeconds[hour] += gs;
    });
  };

  const settle = (from: number, to: number) => {
    const hour = new Date(epochMs + from * 1000).getUTCHours();
    for (const rec of [...live.values(), ...ended]) {
      const started = rec.lease.startedAt;
      if (started === null || rec.pricing === null) continue;
      const seconds = Math.min(to, rec.lease.endedAt ?? to) - Math.max(from, started);
      if (seconds <= 0) continue;
      meter.record(rec, seconds, scheduler.charging);
      usage(rec, rec.pricing, seconds, hour);
    }
    ended = [];
  };

  const nodeIndex = new Map(nodes.map((x, i) => [x.id, i]));
  /**
   * The commit step's view of the fleet, for the nodes and leases a decision touches. Every node
   * takes new leases (the simulator fences none); it has no tenants or providers, and a scheduler
   * places only open jobs.
   */
  const commitState = (
    decision: RoundDecision,
    proposals: readonly { readonly bidId: string; readonly shares: readonly { readonly nodeId: string }[] }[],
  ): CommitState => {
    const leases = new Map<string, CommitLease>();
    for (const id of [...decision.preempt, ...(decision.winBacks ?? [])]) {
      const rec = live.get(id);
      if (rec) leases.set(id, { lease: rec.lease, tenantId: SIMULATED_TENANT, shares: rec.nodeShares, providers: [] });
    }
    const touched = new Set<string>();
    for (const lease of leases.values()) for (const s of lease.shares) touched.add(s.nodeId);
    for (const p of proposals) for (const s of p.shares) touched.add(s.nodeId);
    const commitNodes = new Map<string, CommitNode>();
    const used = new Map<string, number>();
    for (const id of touched) {
      const i = nodeIndex.get(id)!;
      commitNodes.set(id, { capacity: capacity[i], active: true });
      used.set(id, capacity[i] - committedFree[i]);
    }
    return {
      leases,
      nodes: commitNodes,
      used,
      openBids: new Map(proposals.map((p) => [p.bidId, SIMULATED_TENANT])),
      expiringBids: [],
    };
  };

  /**
   * The round's decision goes through the market's own commit step (src/core/market/round-commit.ts),
   * the one the service writes: notices and win-backs through the lease lifecycle, each placement
   * checked to still fit. In the simulator nothing moves between a round and its commit, so
   * anything the step refuses or drops is a scheduler that broke the rules, and ends the run.
   */
  const applyDecision = (decision: RoundDecision, now: number) => {
    prices = decision.prices;
    const proposals = decision.placements.map((p) => {
      const job = jobs[p.jobIndex];
      return {
        id: p.leaseId ?? `l-${++leaseSeq}`,
        bidId: job.id,
        gpuModel: p.gpuModel,
        preemptible: job.preemptible,
        runtimeSeconds: remaining[p.jobIndex],
        startAfter: p.startAfter ?? now,
        protectedUntil: p.protectedUntil,
        shares: p.shares.map((x) => ({ nodeId: nodes[x.node].id, gpus: x.gpus })),
        placement: p,
      };
    });
    const changes = commitRound(
      commitState(decision, proposals),
      {
        notices: decision.preempt.map((leaseId) => ({ leaseId, noticeEndsAt: now + timing.preemptionNoticeSeconds })),
        winBacks: decision.winBacks ?? [],
        newLeases: proposals,
      },
      now,
      timing,
    );
    const skipped = changes.skippedTransitions[0];
    if (skipped?.reason === 'lease_gone')
      throw new Error(
        `simulator: ${scheduler.name} ${skipped.event === 'preempt' ? 'preempted' : 'kept'} unknown lease ${skipped.leaseId}`,
      );
    if (skipped?.event === 'win_back' && skipped.reason === 'no_longer_fits')
      throw new Error(`simulator: lease ${skipped.leaseId} won back GPUs already handed on`);
    if (skipped) throw new Error(`simulator: lease ${skipped.leaseId}: cannot ${skipped.event} (${skipped.reason})`);
    const dropped = changes.droppedLeases[0];
    if (dropped)
      throw new Error(
        `simulator: ${scheduler.name} over-allocated a node for job ${jobs[dropped.proposal.placement.jobIndex].id}`,
      );
    for (const [nodeId, gpus] of changes.used) {
      const i = nodeIndex.get(nodeId)!;
      committedFree[i] = capacity[i] - gpus;
    }
    for (const change of changes.notices) {
      const rec = live.get(change.leaseId)!;
      rec.lease = change.lease;
      preemptions[rec.jobIndex]++;
    }
    for (const change of changes.winBacks) {
      live.get(change.leaseId)!.lease = change.lease;
      winBacks++;
    }
    const placed = new Set<number>();
    for (const { proposal, lease } of changes.newLeases) {
      const p = proposal.placement;
      const rec: LeaseRecord = {
        id: lease.id,
        jobIndex: p.jobIndex,
        job: jobs[p.jobIndex],
        lease,
        shares: p.shares,
        nodeShares: proposal.shares,
        gpuModel: p.gpuModel,
        limit: p.limit,
        startAfter: proposal.startAfter,
        pricing: null,
      };
      live.set(rec.id, rec);
      placed.add(p.jobIndex);
      outcome[p.jobIndex] = 'running';
      if (rec.startAfter <= now && fits(rec.shares, physicalFree)) start(rec, now);
    }
    if (placed.size > 0) open = open.filter((j) => !placed.has(j));
    for (const rec of live.values()) {
      const repriced = decision.repricing?.get(rec.id);
      if (repriced) rec.pricing = roundPricing(rec, repriced);
      else if (!decision.repricing || rec.pricing === null) rec.pricing = defaultPricing(rec);
    }
  };

  let lastNow = 0;
  let drained: number | null = null;
  for (let round = 0, now = 0; now < end; round++, now += period) {
    lastNow = now;
    processClock(now);
    if (round > 0) settle(now - period, now);
    // Past the horizon nothing arrives: once nothing waits or runs, no later round can change anything.
    if (now >= horizon && nextArrival >= n && open.length === 0 && live.size === 0) {
      drained = now;
      break;
    }
    while (nextArrival < n && jobs[nextArrival].arrival <= now) open.push(nextArrival++);
    const eligible: OpenJob[] = [];
    const stillOpen: number[] = [];
    for (const j of open) {
      const job = jobs[j];
      const check = checkWindow(job.window, remaining[j], now);
      if (check.eligible || (!scheduler.honoursDeadlines && now >= (job.window?.notBefore ?? 0))) {
        eligible.push({ index: j, job, remainingSeconds: remaining[j] });
        stillOpen.push(j);
      } else if (check.reason === 'window_closed') ((outcome[j] = 'expired'), (remainingAtEnd[j] = remaining[j]));
      else stillOpen.push(j);
    }
    open = stillOpen;
    const records = [...live.values()];
    const seen = leasesSeenByRound(
      records.map((record) => ({
        record,
        state: record.lease.state as 'allocated' | 'running' | 'preempting',
        protectedUntil: record.lease.protectedUntil,
        shares: record.nodeShares,
      })),
      nodeGpus,
    );
    const decision: RoundDecision = await scheduler.decide({
      now,
      nowIso: new Date(epochMs + now * 1000).toISOString(),
      roundIndex: round,
      nodes,
      free: Int32Array.from(committedFree),
      open: eligible,
      leases: seen.map((s) => ({ record: s.lease.record, protectedUntil: s.protectedUntil })),
      newLeaseId: () => `l-${++leaseSeq}`,
    });
    solveMs.push(decision.solveMs);
    if (decision.hitTimeLimit) roundsAtTimeLimit.push(round);
    applyDecision(decision, now);
    series.t.push(now);
    series.busyGpus.push(busy);
    series.queue.push(open.length);
    if (decision.prices) {
      for (const [key, price] of decision.prices) push(series.prices, key, price.toNumber(), NaN, series.t.length);
      for (const values of series.prices.values()) if (values.length < series.t.length) values.push(NaN);
    }
    if (decision.pricing) {
      const p = decision.pricing;
      runPricing ??= { losers: 0, paradoxicallyRejected: {}, unitPriceMismatches: 0, methods: {} };
      runPricing.losers += p.losers;
      for (const [reason, count] of Object.entries(p.paradoxicallyRejected))
        runPricing.paradoxicallyRejected[reason] = (runPricing.paradoxicallyRejected[reason] ?? 0) + count;
      runPricing.unitPriceMismatches += p.unitPriceMismatches;
      if (p.method) runPricing.methods[p.method] = (runPricing.methods[p.method] ?? 0) + 1;
      for (const [key, v] of p.vwap) {
        push(series.vwap, key, v.price === null ? NaN : v.price.toNumber(), NaN, series.t.length);
        push(series.soldGpus, key, v.soldGpus, 0, series.t.length);
      }
      for (const values of series.vwap.values()) if (values.length < series.t.length) values.push(NaN);
      for (const values of series.soldGpus.values()) if (values.length < series.t.length) values.push(0);
    }
    if (options.stop?.({ now, firstStart, completedAt, outcome })) {
      stoppedAt = round;
      break;
    }
  }
  let endSeconds = drained ?? Math.min(end, lastNow + period);
  if (stoppedAt === null && drained === null) {
    endSeconds = Math.max(horizon, Math.min(end, lastNow + period));
    processClock(endSeconds);
    settle(lastNow, endSeconds);
    for (const rec of live.values()) credit(rec, endSeconds);
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
    remainingAtEnd,
    preemptions,
    winBacks,
    gpuSeconds,
    runSeconds,
    intervals,
    endSeconds,
    meter,
    usageByHour,
    series,
    pricing: runPricing,
    solveMs,
    roundsAtTimeLimit,
    stoppedAt,
  };
}
