/**
 * How many replicas a service wants, from its in-flight concurrency (requests being served plus
 * requests the gateway holds). A pure function of its inputs: the runner samples the gateway,
 * calls `decide` once a tick, records every change with the inputs that led to it.
 *
 * The rules (docs/services.md, "Autoscaling"), after Knative's KPA:
 * - stable: the mean concurrency over the stable window (60 s by default) / targetConcurrency,
 *   rounded up; panic: the same over the panic window (6 s). When the panic figure is at least
 *   twice the current count, the service is in a burst and the larger figure is taken at once.
 * - up: at once, to the wanted count (never above maxReplicas);
 * - down: one replica at a time, each step only after the wanted count stayed below the current
 *   one for scaleDownDelaySeconds (so a replica is not removed and re-added every few minutes);
 * - to zero: only once no request arrived for scaleToZeroAfterSeconds; until then at least one;
 * - never below minReplicas.
 */

export interface ScalingPolicy {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** In-flight requests one replica should carry. */
  readonly targetConcurrency: number;
  readonly scaleDownDelaySeconds: number;
  readonly scaleToZeroAfterSeconds: number;
  readonly stableWindowSeconds: number;
  readonly panicWindowSeconds: number;
}

/** The mean concurrency over [at - seconds, at]: one per tick, from the gateway's time integral. */
export interface ConcurrencySample {
  /** Milliseconds on the runner's clock, the end of the interval. */
  readonly at: number;
  readonly seconds: number;
  readonly concurrency: number;
}

export interface AutoscalerInput {
  readonly now: number;
  readonly policy: ScalingPolicy;
  readonly samples: readonly ConcurrencySample[];
  /** The desired count decided last. */
  readonly current: number;
  /** Requests held now (no ready replica to take them). */
  readonly pending: number;
  /** When the last request arrived (ms), or null if none ever did. */
  readonly lastRequestAt: number | null;
  /** Since when the wanted count has stayed below `current` (ms), or null. */
  readonly belowSince: number | null;
}

export type ScalingReason =
  | 'scale_from_zero'
  | 'scale_up'
  | 'panic_scale_up'
  | 'scale_down'
  | 'scale_to_zero'
  | 'raise_to_min'
  | 'lower_to_max'
  | 'steady';

export interface ScalingInputs {
  readonly stableConcurrency: number;
  readonly panicConcurrency: number;
  readonly stableWant: number;
  readonly panicWant: number;
  readonly panic: boolean;
  readonly pending: number;
  readonly idleSeconds: number | null;
  readonly floor: number;
  readonly want: number;
  readonly belowForSeconds: number | null;
}

export interface ScalingDecision {
  readonly desired: number;
  readonly reason: ScalingReason;
  readonly inputs: ScalingInputs;
  /** To pass back as `belowSince` on the next call. */
  readonly belowSince: number | null;
}

/** Time-weighted mean of the samples that fall inside the window ending at `now`. */
export function windowMean(samples: readonly ConcurrencySample[], now: number, windowSeconds: number): number {
  const from = now - windowSeconds * 1000;
  let weighted = 0;
  let seconds = 0;
  for (const sample of samples) {
    if (sample.at <= from || sample.at > now) continue;
    weighted += sample.concurrency * sample.seconds;
    seconds += sample.seconds;
  }
  return seconds > 0 ? weighted / seconds : 0;
}

function replicasFor(concurrency: number, target: number): number {
  // A hair of tolerance, so 2.0000000001 in-flight (float sums) does not ask for a third replica.
  return concurrency <= 1e-9 ? 0 : Math.ceil(concurrency / target - 1e-9);
}

export function decide(input: AutoscalerInput): ScalingDecision {
  const { now, policy, current, pending } = input;
  const stableConcurrency = windowMean(input.samples, now, policy.stableWindowSeconds);
  const panicConcurrency = windowMean(input.samples, now, policy.panicWindowSeconds);
  const stableWant = replicasFor(stableConcurrency, policy.targetConcurrency);
  // Held requests count now: they are demand the samples may not have seen yet.
  const panicWant = Math.max(
    replicasFor(panicConcurrency, policy.targetConcurrency),
    replicasFor(pending, policy.targetConcurrency),
  );
  const panic = current === 0 ? panicWant > 0 : panicWant >= 2 * current;
  const idleSeconds = input.lastRequestAt === null ? null : (now - input.lastRequestAt) / 1000;
  const recentlyUsed = idleSeconds !== null && idleSeconds < policy.scaleToZeroAfterSeconds;
  const floor = Math.max(policy.minReplicas, recentlyUsed || pending > 0 ? 1 : 0);
  const want = Math.min(policy.maxReplicas, Math.max(floor, panic ? Math.max(stableWant, panicWant) : stableWant));
  const inputs = (belowForSeconds: number | null): ScalingInputs => ({
    stableConcurrency: round3(stableConcurrency),
    panicConcurrency: round3(panicConcurrency),
    stableWant,
    panicWant,
    panic,
    pending,
    idleSeconds: idleSeconds === null ? null : round3(idleSeconds),
    floor,
    want,
    belowForSeconds,
  });

  if (current < policy.minReplicas)
    return { desired: want, reason: 'raise_to_min', inputs: inputs(null), belowSince: null };
  if (current > policy.maxReplicas)
    return { desired: policy.maxReplicas, reason: 'lower_to_max', inputs: inputs(null), belowSince: null };
  if (want > current) {
    const reason: ScalingReason =
      current === 0 ? 'scale_from_zero' : panic && panicWant > stableWant ? 'panic_scale_up' : 'scale_up';
    return { desired: want, reason, inputs: inputs(null), belowSince: null };
  }
  if (want === current) return { desired: current, reason: 'steady', inputs: inputs(null), belowSince: null };

  // want < current: one step down, after the delay (to zero: once idle long enough, which the floor says).
  const belowSince = input.belowSince ?? now;
  const belowForSeconds = (now - belowSince) / 1000;
  const toZero = current === 1 && want === 0;
  if (toZero || belowForSeconds >= policy.scaleDownDelaySeconds) {
    // The next step waits a whole delay again.
    return {
      desired: current - 1,
      reason: toZero ? 'scale_to_zero' : 'scale_down',
      inputs: inputs(round3(belowForSeconds)),
      belowSince: current - 1 > want ? now : null,
    };
  }
  return { desired: current, reason: 'steady', inputs: inputs(round3(belowForSeconds)), belowSince };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
