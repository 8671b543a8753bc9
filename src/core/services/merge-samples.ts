import type { ConcurrencySample } from './autoscaler.js';

/**
 * A service's concurrency across several gateways (one per market process): each process samples
 * its own gateway once a tick, on its own clock phase. The runner that decides for the service
 * takes its own samples as the time grid and adds, at each, what every other gateway measured
 * for the interval nearest in time (within one of its intervals, else nothing: a gateway that
 * stopped reporting carries no load). Sums, not means: two gateways at concurrency 3 each are 6
 * in flight for the service.
 */
export function mergeConcurrency(
  own: readonly ConcurrencySample[],
  others: readonly (readonly ConcurrencySample[])[],
): ConcurrencySample[] {
  if (others.length === 0) return [...own];
  return own.map((sample) => {
    let concurrency = sample.concurrency;
    for (const samples of others) concurrency += nearest(samples, sample)?.concurrency ?? 0;
    return { ...sample, concurrency };
  });
}

function nearest(samples: readonly ConcurrencySample[], to: ConcurrencySample): ConcurrencySample | undefined {
  let best: ConcurrencySample | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const sample of samples) {
    const distance = Math.abs(sample.at - to.at);
    if (distance < bestDistance) {
      best = sample;
      bestDistance = distance;
    }
  }
  if (!best) return undefined;
  // Within the longer of the two intervals: a sample further off describes another moment.
  return bestDistance <= Math.max(best.seconds, to.seconds) * 1000 ? best : undefined;
}
