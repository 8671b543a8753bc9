import { allocationScore } from '../../src/core/clearing/heuristics/greedy-heuristic.js';
import { improveLocally } from '../../src/core/clearing/heuristics/local-search.js';
import { lpPacking } from '../../src/core/clearing/heuristics/lp-packing.js';
import { buildRoundProblem } from '../../src/core/clearing/round-problem.js';
import { upperBound } from '../../src/core/clearing/upper-bound.js';
import { improveByNeighbourhoods } from '../../src/core/clearing/improve-neighbourhoods.js';
import { repackRacks } from '../../src/core/clearing/heuristics/repack-racks.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import type { Allocation } from '../../src/core/clearing/allocation.js';
import { wholeRoundMip } from './baselines.js';
import { probeRounds } from './probe-rounds.js';

/**
 * `node dist/bench/bench/clearing/gap-probe.js ROUND [MS]` after `npm run bench:clearing`: where a
 * probe round's result differs from the optimum. The round (e.g. "contested 1") is cleared as a
 * 1 s round would be (LP packing, 400 ms of search, the racks re-packed, 1.5 s of neighbourhoods,
 * the search again), then HiGHS solves the whole round from that start for MS (default 60 s); the
 * bids only one of the two places are listed with their LP weight (lp) and whether the LP packing
 * placed them (pk).
 */
const only = process.argv[2] ?? 'instance 42';
const optMs = Number(process.argv[3] ?? 60_000);
for (const [name, snapshot] of probeRounds()) {
  if (!name.startsWith(only)) continue;
  const problem = buildRoundProblem(snapshot);
  const backend = new HighsBackend();
  const relaxed = (await upperBound(problem, backend, Date.now() + 60_000, Date.now))!;
  const packed = lpPacking(problem, relaxed);
  const lpWeight = Float64Array.from(relaxed.bidOptions, (o) => o.reduce((t, v) => t + v, 0));
  let ours: Allocation = improveLocally(problem, packed, { deadline: Date.now() + 400, clock: Date.now });
  ours = repackRacks(problem, ours, { deadline: Date.now() + 100, clock: Date.now }).allocation;
  ours = (
    await improveByNeighbourhoods(problem, ours, backend, {
      deadline: Date.now() + 1500,
      clock: Date.now,
      seed: 42,
      lpWeight,
    })
  ).allocation;
  ours = improveLocally(problem, ours, { deadline: Date.now() + 300, clock: Date.now });
  const best = await wholeRoundMip(problem, ours, backend, optMs);
  const opt = best.allocation!;
  console.log(
    `${name}: ours ${allocationScore(problem, ours).toFixed(2)} opt ${allocationScore(problem, opt).toFixed(2)} (${best.status})`,
  );
  const pool = (n: number) => `${problem.nodes[n].node.region}/${problem.nodes[n].node.gpuModel}`;
  const describe = (a: Allocation['assignments'][number]) => {
    const b = problem.bids[a.bid];
    const o = b.options[a.option];
    const gain = (o.value - problem.nodes[a.shares[0].node].reserve) * b.bid.gpus;
    return `lp=${lpWeight[a.bid].toFixed(2)} pk=${packed.assignments.some((x) => x.bid === a.bid) ? 1 : 0} ${b.bid.id} ${b.bid.gpus}x${b.bid.contiguity} opts=${b.options.length} gain~${gain.toFixed(2)} @ ${[...new Set(a.shares.map((s) => pool(s.node)))].join('+')} nodes ${a.shares.map((s) => `${s.node}:${s.gpus}`).join(',')}`;
  };
  const oursBy = new Map(ours.assignments.map((a) => [a.bid, a]));
  const optBy = new Map(opt.assignments.map((a) => [a.bid, a]));
  const pools = new Map<string, number>();
  const key = (a: Allocation['assignments'][number]) =>
    a.shares
      .map((s) => `${s.node}:${s.gpus}`)
      .sort()
      .join(',');
  for (const a of opt.assignments) {
    const o = oursBy.get(a.bid);
    if (!o) console.log(`  + opt only: ${describe(a)}`);
    else if (key(o) !== key(a)) {
      for (const s of [...a.shares, ...o.shares]) pools.set(pool(s.node), (pools.get(pool(s.node)) ?? 0) + 1);
    }
  }
  for (const a of ours.assignments) if (!optBy.has(a.bid)) console.log(`  - ours only: ${describe(a)}`);
  const po = new Set(ours.preempted),
    pp = new Set(opt.preempted);
  console.log(
    `  preempted ours-only ${[...po].filter((l) => !pp.has(l)).length}, opt-only ${[...pp].filter((l) => !po.has(l)).length}`,
  );
  console.log(`  moved bids touch pools: ${JSON.stringify(Object.fromEntries(pools))}`);
}
