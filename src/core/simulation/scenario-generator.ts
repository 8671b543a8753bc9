import { Money, parsePrice, toMoney } from '../money/money.js';
import type { MarketNode } from '../market/types.js';
import { Rng } from './rng.js';
import type { Distribution, PoolSpec, ScenarioSpec, TenantSpec } from './scenario-spec.js';
import type { SimJob, Workload } from './workload.js';

const HOUR = 3600;

export function sample(rng: Rng, d: Distribution): number {
  const clamp = (x: number, min?: number, max?: number) => Math.min(max ?? Infinity, Math.max(min ?? -Infinity, x));
  switch (d.dist) {
    case 'const':
      return d.value;
    case 'uniform':
      return rng.uniform(d.min, d.max);
    case 'exponential':
      return clamp(rng.exponential(d.mean), d.min, d.max);
    case 'lognormal':
      return clamp(rng.lognormal(d.median, d.sigma), d.min, d.max);
    case 'choice':
      return rng.weighted(d.values, d.weights);
  }
}

export function buildFleet(pools: readonly PoolSpec[]): MarketNode[] {
  const nodes: MarketNode[] = [];
  for (const pool of pools) {
    const reservePrice = parsePrice(pool.reservePrice);
    const tag = `${pool.gpuModel}-${pool.region}`;
    for (let i = 0; i < pool.nodes; i++) {
      const id = `${tag}-n${String(i).padStart(4, '0')}`;
      nodes.push({
        id,
        provider: pool.provider,
        gpuModel: pool.gpuModel,
        gpuMemoryGb: pool.gpuMemoryGb,
        gpus: pool.gpusPerNode,
        unavailableGpus: 0,
        region: pool.region,
        block: `${tag}-b${Math.floor(i / Math.max(1, pool.nodesPerBlock))}`,
        nvlinkDomain: id,
        compliance: [],
        reservePrice,
      });
    }
  }
  return nodes;
}

/** Arrival rate per hour at virtual second t (t = 0 is `startHourOfWeek` hours into a Monday-based week). */
export function arrivalRate(tenant: TenantSpec, t: number, startMs: number): number {
  const at = new Date(startMs + t * 1000);
  const hour = at.getUTCHours() + at.getUTCMinutes() / 60;
  let rate = tenant.jobsPerHour;
  if (tenant.diurnal)
    rate *= 1 + tenant.diurnal.amplitude * Math.cos((2 * Math.PI * (hour - tenant.diurnal.peakHour)) / 24);
  const day = at.getUTCDay();
  if (tenant.weekly && (day === 0 || day === 6)) rate *= tenant.weekly.weekendFactor;
  for (const burst of tenant.bursts ?? [])
    if (t >= burst.atHour * HOUR && t < (burst.atHour + burst.hours) * HOUR) rate *= burst.factor;
  return Math.max(0, rate);
}

function maxRate(tenant: TenantSpec): number {
  const diurnal = 1 + Math.abs(tenant.diurnal?.amplitude ?? 0);
  const weekly = Math.max(1, tenant.weekly?.weekendFactor ?? 1);
  const burst = (tenant.bursts ?? []).reduce((m, b) => m * Math.max(1, b.factor), 1);
  return tenant.jobsPerHour * diurnal * weekly * burst;
}

function money4(x: number): Money {
  return toMoney(Math.max(0, x).toFixed(4));
}

function windowLength(rng: Rng, tenant: TenantSpec, runtimeSeconds: number): number {
  if (tenant.windowHours) return Math.max(runtimeSeconds, Math.ceil(sample(rng, tenant.windowHours) * HOUR));
  return Math.ceil(runtimeSeconds * Math.max(1, sample(rng, tenant.windowSlack!)));
}

/** Non-homogeneous Poisson arrivals by thinning (Lewis-Shedler), one stream per tenant. */
function tenantJobs(
  tenant: TenantSpec,
  seed: number,
  horizon: number,
  startMs: number,
  identicalLimits?: Distribution,
): SimJob[] {
  const rng = Rng.stream(seed, `tenant:${tenant.name}`);
  // Identical limits come from a stream of their own, after the class's draw as usual, so the
  // jobs (arrivals, gangs, windows) are the same as without the setting, seed for seed.
  const limitRng = identicalLimits ? Rng.stream(seed, `identical-limits:${tenant.name}`) : null;
  const lambdaMax = maxRate(tenant) / HOUR;
  const jobs: SimJob[] = [];
  if (lambdaMax <= 0) return jobs;
  let t = 0;
  for (;;) {
    t += rng.exponential(1 / lambdaMax);
    if (t >= horizon) break;
    if (!rng.chance(arrivalRate(tenant, t, startMs) / HOUR / lambdaMax)) continue;
    const arrival = Math.floor(t);
    const gpus = Math.max(1, Math.round(sample(rng, tenant.gangSize)));
    const runtimeSeconds = Math.max(60, Math.round(sample(rng, tenant.runtimeMinutes) * 60));
    const preemptible = rng.chance(tenant.preemptibleShare);
    const windowed = rng.chance(tenant.windowShare);
    const window = windowed
      ? { notBefore: arrival, deadline: arrival + windowLength(rng, tenant, runtimeSeconds) }
      : null;
    const valueDist = preemptible
      ? windowed
        ? tenant.value.preemptibleWindow
        : tenant.value.preemptibleNow
      : windowed
        ? tenant.value.fixedWindow
        : tenant.value.fixedNow;
    const classValue = sample(rng, valueDist);
    const value = limitRng && identicalLimits ? sample(limitRng, identicalLimits) : classValue;
    jobs.push({
      id: `${tenant.name}-${String(jobs.length).padStart(6, '0')}`,
      tenant: tenant.name,
      arrival,
      gpus,
      runtimeSeconds,
      preemptible,
      window,
      offers: tenant.models.map((m) => ({ gpuModel: m.gpuModel, maxPrice: money4(value * m.valueFactor) })),
      contiguity: tenant.contiguity,
      regions: tenant.regions ?? [],
    });
  }
  return jobs;
}

export function generateWorkload(spec: ScenarioSpec, seed: number, hours = spec.hours): Workload {
  const startMs = Date.parse(spec.start);
  if (Number.isNaN(startMs)) throw new ScenarioError('start', 'must be an ISO-8601 time');
  const horizon = Math.round(hours * HOUR);
  const jobs = spec.tenants
    .flatMap((tenant) => tenantJobs(tenant, seed, horizon, startMs, spec.identicalLimits))
    .sort((a, b) => a.arrival - b.arrival || (a.id < b.id ? -1 : 1));
  return {
    name: spec.name,
    description: spec.description,
    epoch: new Date(startMs).toISOString(),
    horizonSeconds: horizon,
    nodes: buildFleet(spec.fleet),
    jobs,
    tenants: spec.tenants.map((t) => t.name),
    params: {
      periodSeconds: spec.periodSeconds,
      feePercent: toMoney(spec.feePercent),
      preemptionPenalty: toMoney(spec.preemptionPenalty),
      minHoldSeconds: spec.minHoldSeconds,
      preemptionNoticeSeconds: spec.preemptionNoticeSeconds,
    },
    notes: [
      spec.identicalLimits
        ? `Synthetic scenario "${spec.name}", seed ${seed}: Poisson arrivals per tenant (thinning); limits per GPU-hour identical for every flexibility class, drawn from identicalLimits ${JSON.stringify(spec.identicalLimits)} (the tenants' per-class value distributions are not used), so any difference in what the classes pay comes from the market.`
        : `Synthetic scenario "${spec.name}", seed ${seed}: Poisson arrivals per tenant (thinning), values per GPU-hour drawn per flexibility class from the distributions in the scenario file.`,
    ],
    limits: spec.identicalLimits ? 'identical' : 'by-class',
  };
}

export class ScenarioError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`scenario.${field}: ${message}`);
  }
}

/** Checks the fields a typo would silently break; the rest is typed by the file format. */
export function validateScenario(input: unknown): ScenarioSpec {
  const s = input as Partial<ScenarioSpec>;
  if (!s || typeof s !== 'object') throw new ScenarioError('', 'must be a JSON object');
  for (const field of ['name', 'start', 'feePercent', 'preemptionPenalty'] as const)
    if (typeof s[field] !== 'string') throw new ScenarioError(field, 'must be a string');
  for (const field of ['hours', 'periodSeconds', 'minHoldSeconds', 'preemptionNoticeSeconds'] as const)
    if (typeof s[field] !== 'number' || !(s[field] >= 0))
      throw new ScenarioError(field, 'must be a non-negative number');
  if (!(s.periodSeconds! > 0)) throw new ScenarioError('periodSeconds', 'must be positive');
  if (!Array.isArray(s.fleet) || s.fleet.length === 0) throw new ScenarioError('fleet', 'must list at least one pool');
  if (!Array.isArray(s.tenants) || s.tenants.length === 0)
    throw new ScenarioError('tenants', 'must list at least one tenant');
  if (
    s.identicalLimits !== undefined &&
    (typeof s.identicalLimits !== 'object' || s.identicalLimits === null || typeof s.identicalLimits.dist !== 'string')
  )
    throw new ScenarioError('identicalLimits', 'must be a distribution ({"dist": ...})');
  const models = new Set(s.fleet.map((p) => p.gpuModel));
  s.fleet.forEach((p, i) => {
    if (!(p.nodes >= 0 && p.gpusPerNode > 0)) throw new ScenarioError(`fleet[${i}]`, 'nodes >= 0 and gpusPerNode > 0');
    parsePrice(p.reservePrice);
  });
  s.tenants.forEach((t, i) => {
    if (!t.models?.length) throw new ScenarioError(`tenants[${i}].models`, 'must list at least one model');
    for (const m of t.models)
      if (!models.has(m.gpuModel)) throw new ScenarioError(`tenants[${i}].models`, `unknown gpuModel ${m.gpuModel}`);
    if (t.windowShare > 0 && !t.windowSlack && !t.windowHours)
      throw new ScenarioError(`tenants[${i}]`, 'windowShare > 0 needs windowSlack or windowHours');
    for (const k of ['fixedNow', 'fixedWindow', 'preemptibleNow', 'preemptibleWindow'] as const)
      if (!t.value?.[k]) throw new ScenarioError(`tenants[${i}].value.${k}`, 'is required');
  });
  return s as ScenarioSpec;
}
