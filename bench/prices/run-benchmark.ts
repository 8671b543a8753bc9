import { checkResult } from '../../src/core/clearing/check-result.js';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { priceDecisions } from '../../src/core/clearing/price-round.js';
import type { RoundResult, RoundSnapshot } from '../../src/core/market/types.js';
import { Money, ZERO } from '../../src/core/money/money.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { settleLeasePeriod } from '../../src/core/settlement/settle-lease.js';
import { carryOver, drawnRound, freshRound } from './generate-rounds.js';

/**
 * `npm run bench:prices`: the prices of market.md section 5a on rounds of 12 to 2,000 bids
 * from bench/prices/generate-rounds.ts, two kinds of leases (values drawn at random, or carried
 * over from an earlier round's winners), five seeds each. Per round: rules 1-8 (checkResult),
 * losing bids listed as paradoxically rejected over all losers, uplift over charges (per hour,
 * placements and kept leases apart), a minute of every payer settled through the ledger rule
 * with charges + uplift = payouts + fees checked to the micro-unit, and the price phase's time.
 * `--envy W1,W2,...` reprices each round's allocation with other envy weights (price-lp.ts).
 */
const SIZES = [12, 50, 200, 500, 1000, 2000];
const SEEDS = [1, 2, 3, 4, 5];
const FEE = new Money(10);

interface Tally {
  rounds: number;
  invalid: number;
  losers: number;
  paradoxical: number;
  charges: number;
  upliftPlacements: number;
  upliftKept: number;
  reconciled: number;
  priceMs: number[];
  levels: number;
}

const tally = (): Tally => ({
  rounds: 0,
  invalid: 0,
  losers: 0,
  paradoxical: 0,
  charges: 0,
  upliftPlacements: 0,
  upliftKept: 0,
  reconciled: 0,
  priceMs: [],
  levels: 0,
});

function record(
  t: Tally,
  s: RoundSnapshot,
  r: Pick<RoundResult, 'placements' | 'keptPrices' | 'nodePrices' | 'paradoxicallyRejected' | 'losses'> &
    Partial<RoundResult>,
  priceMs: number,
  method: string,
): void {
  t.rounds++;
  if (r.welfare) t.invalid += checkResult(s, r as RoundResult).length > 0 ? 1 : 0;
  t.losers += r.losses.length;
  t.paradoxical += r.paradoxicallyRejected.length;
  t.priceMs.push(priceMs);
  if (method !== 'lp') t.levels++;
  const price = new Map(r.nodePrices.map((n) => [n.node, n.price]));
  const leases = new Map(s.leases.map((l) => [l.id, l]));
  const bids = new Map(s.bids.map((b) => [b.id, b]));
  const payers = [
    ...r.placements.map((p) => ({
      kind: 'placement',
      limit: bids.get(p.bidId)!.offers.find((o) => o.gpuModel === p.gpuModel)!.maxPrice,
      shares: p.nodes,
      unit: p.unitPrice,
      uplift: p.uplift,
    })),
    ...r.keptPrices.map((k) => ({
      kind: 'kept',
      limit: leases.get(k.leaseId)!.value,
      shares: leases.get(k.leaseId)!.placement,
      unit: k.unitPrice,
      uplift: k.uplift,
    })),
  ];
  let charges = ZERO;
  let uplift = ZERO;
  let fees = ZERO;
  let payouts = ZERO;
  for (const p of payers) {
    const gpus = p.shares.reduce((n, x) => n + x.gpus, 0);
    t.charges += p.unit.toNumber() * gpus;
    if (p.kind === 'placement') t.upliftPlacements += p.uplift.toNumber() * gpus;
    else t.upliftKept += p.uplift.toNumber() * gpus;
    const settled = settleLeasePeriod({
      leaseId: 'x',
      limit: p.limit,
      shares: p.shares.map((x) => ({ gpus: x.gpus, nodePrice: price.get(x.node)! })),
      seconds: 60,
      feePercent: FEE,
    });
    charges = charges.plus(settled.charge);
    uplift = uplift.plus(settled.uplift);
    fees = fees.plus(settled.fee);
    payouts = payouts.plus(settled.payout);
  }
  if (charges.plus(uplift).equals(payouts.plus(fees))) t.reconciled++;
}

const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(2)}%` : 'n/a');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;

async function main(): Promise<void> {
  const envyArg = process.argv.indexOf('--envy');
  const weights = envyArg > 0 ? process.argv[envyArg + 1].split(',').map(Number) : [];
  const sizes = process.argv.includes('--sizes')
    ? process.argv[process.argv.indexOf('--sizes') + 1].split(',').map(Number)
    : SIZES;
  const backend = new HighsBackend();
  await clearWithSolver(drawnRound(100, 99), { timeLimitMs: 3_000 });
  console.log(
    '| leases | bids | rounds | valid (rules 1-8) | paradoxical / losers | uplift / charges (placements; kept leases) | reconciled exactly | price phase, median (max) | levels fallback |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const totals = { drawn: tally(), carried: tally() };
  const alternatives = new Map(weights.map((w) => [w, { drawn: tally(), carried: tally() }]));
  for (const kind of ['drawn', 'carried'] as const) {
    for (const bids of sizes) {
      const t = tally();
      for (const seed of SEEDS) {
        let s = kind === 'drawn' ? drawnRound(bids, seed) : freshRound(bids, seed);
        if (kind === 'carried')
          s = carryOver(s, (await clearWithSolver(s, { timeLimitMs: 5_000, deterministic: true })).placements, seed);
        const r = await clearWithSolver(s, { timeLimitMs: 5_000, deterministic: true });
        const stats = r.stats.pricing as { method: string };
        for (const into of [t, totals[kind]]) record(into, s, r, r.stats.phases.price ?? 0, stats.method);
        for (const [w, alt] of alternatives) {
          const started = Date.now();
          const p = await priceDecisions(s, r, {
            backend,
            deadline: Date.now() + 60_000,
            clock: Date.now,
            envyWeight: w,
          });
          const placements = r.placements.map((x) => ({ ...x, ...p.placementPrices.get(x.bidId)! }));
          record(
            alt[kind],
            s,
            {
              placements,
              keptPrices: p.keptPrices,
              nodePrices: p.nodePrices,
              paradoxicallyRejected: p.paradoxicallyRejected,
              losses: r.losses,
            },
            Date.now() - started,
            p.stats.method,
          );
        }
      }
      const uplift = t.upliftPlacements + t.upliftKept;
      console.log(
        `| ${kind} | ${bids} | ${t.rounds} | ${t.rounds - t.invalid} / ${t.rounds} | ${t.paradoxical} / ${t.losers} = ${pct(t.paradoxical, t.losers)} | ${pct(uplift, t.charges)} (${pct(t.upliftPlacements, t.charges)}; ${pct(t.upliftKept, t.charges)}) | ${t.reconciled} / ${t.rounds} | ${median(t.priceMs)} ms (${Math.max(...t.priceMs)} ms) | ${t.levels} |`,
      );
    }
  }
  for (const kind of ['drawn', 'carried'] as const) {
    const t = totals[kind];
    console.log(
      `| ${kind}, all | | ${t.rounds} | ${t.rounds - t.invalid} / ${t.rounds} | ${t.paradoxical} / ${t.losers} = ${pct(t.paradoxical, t.losers)} | ${pct(t.upliftPlacements + t.upliftKept, t.charges)} (${pct(t.upliftPlacements, t.charges)}; ${pct(t.upliftKept, t.charges)}) | ${t.reconciled} / ${t.rounds} | | ${t.levels} |`,
    );
  }
  if (alternatives.size > 0) {
    console.log('\n| envy weight | leases | paradoxical / losers | uplift / charges (placements; kept leases) |');
    console.log('| --- | --- | --- | --- |');
    for (const [w, alt] of alternatives)
      for (const kind of ['drawn', 'carried'] as const) {
        const t = alt[kind];
        console.log(
          `| ${w} | ${kind} | ${t.paradoxical} / ${t.losers} = ${pct(t.paradoxical, t.losers)} | ${pct(t.upliftPlacements + t.upliftKept, t.charges)} (${pct(t.upliftPlacements, t.charges)}; ${pct(t.upliftKept, t.charges)}) |`,
        );
      }
  }
}

await main();
