import { describe, expect, it } from 'vitest';
import { arrivalRate, generateWorkload, ScenarioError, validateScenario } from './scenario-generator.js';
import type { ScenarioSpec, TenantSpec } from './scenario-spec.js';

const tenant = (over: Partial<TenantSpec> = {}): TenantSpec => ({
  name: 'a',
  jobsPerHour: 30,
  diurnal: { amplitude: 0.9, peakHour: 14 },
  gangSize: { dist: 'choice', values: [1, 2, 4, 8] },
  runtimeMinutes: { dist: 'lognormal', median: 30, sigma: 0.5, min: 5, max: 240 },
  preemptibleShare: 0.5,
  windowShare: 0.5,
  windowSlack: { dist: 'uniform', min: 2, max: 4 },
  models: [
    { gpuModel: 'H100', valueFactor: 1 },
    { gpuModel: 'A100', valueFactor: 0.5 },
  ],
  value: {
    fixedNow: { dist: 'uniform', min: 4, max: 6 },
    fixedWindow: { dist: 'const', value: 3 },
    preemptibleNow: { dist: 'const', value: 2 },
    preemptibleWindow: { dist: 'const', value: 1 },
  },
  contiguity: 'node',
  ...over,
});

const spec = (tenants: TenantSpec[] = [tenant()]): ScenarioSpec => ({
  name: 't',
  description: '',
  start: '2026-01-05T00:00:00Z',
  hours: 48,
  periodSeconds: 60,
  feePercent: '10',
  preemptionPenalty: '0.05',
  minHoldSeconds: 600,
  preemptionNoticeSeconds: 120,
  fleet: [
    {
      gpuModel: 'H100',
      gpuMemoryGb: 80,
      region: 'r',
      provider: 'p',
      nodes: 3,
      gpusPerNode: 8,
      nodesPerBlock: 2,
      reservePrice: '0.50',
    },
    {
      gpuModel: 'A100',
      gpuMemoryGb: 80,
      region: 'r',
      provider: 'p',
      nodes: 1,
      gpusPerNode: 8,
      nodesPerBlock: 2,
      reservePrice: '0.30',
    },
  ],
  tenants,
});

describe('synthetic demand', () => {
  it('is reproducible: the same seed gives the same jobs, another seed different ones', () => {
    const a = generateWorkload(spec(), 42);
    expect(generateWorkload(spec(), 42)).toEqual(a);
    expect(generateWorkload(spec(), 43).jobs).not.toEqual(a.jobs);
  });

  it("adding a tenant leaves the other tenants' demand unchanged", () => {
    const alone = generateWorkload(spec([tenant()]), 5).jobs;
    const withOther = generateWorkload(spec([tenant(), tenant({ name: 'b' })]), 5).jobs.filter((j) => j.tenant === 'a');
    expect(withOther).toEqual(alone);
  });

  it('follows the day/night cycle: far more arrivals in the peak hours than in the trough', () => {
    const jobs = generateWorkload(spec(), 1).jobs;
    const hourOf = (t: number) => Math.floor(t / 3600) % 24;
    const peak = jobs.filter((j) => [13, 14, 15].includes(hourOf(j.arrival))).length;
    const trough = jobs.filter((j) => [1, 2, 3].includes(hourOf(j.arrival))).length;
    expect(peak).toBeGreaterThan(5 * trough);
  });

  it('applies weekend factors and bursts to the arrival rate', () => {
    const start = Date.parse('2026-01-05T00:00:00Z'); // a Monday
    const t = tenant({
      diurnal: undefined,
      weekly: { weekendFactor: 0.25 },
      bursts: [{ atHour: 2, hours: 1, factor: 6 }],
    });
    expect(arrivalRate(t, 0, start)).toBe(30);
    expect(arrivalRate(t, 2.5 * 3600, start)).toBe(180);
    expect(arrivalRate(t, 5 * 24 * 3600 + 10, start)).toBe(7.5); // Saturday
  });

  it('draws gangs, windows and values from the stated distributions', () => {
    const jobs = generateWorkload(spec(), 3).jobs;
    expect(jobs.length).toBeGreaterThan(500);
    for (const j of jobs) {
      expect([1, 2, 4, 8]).toContain(j.gpus);
      expect(j.runtimeSeconds).toBeGreaterThanOrEqual(300);
      expect(j.runtimeSeconds).toBeLessThanOrEqual(240 * 60);
      if (j.window) {
        expect(j.window.notBefore).toBe(j.arrival);
        expect(j.window.deadline - j.window.notBefore).toBeGreaterThanOrEqual(2 * j.runtimeSeconds);
      }
      const value = j.offers[0].maxPrice.toNumber();
      if (j.preemptible && j.window) expect(value).toBe(1);
      if (!j.preemptible && !j.window) expect(value).toBeGreaterThanOrEqual(4);
      // the substitute is offered at its value factor
      expect(j.offers[1].maxPrice.toNumber()).toBeCloseTo(value * 0.5, 3);
    }
    const share = jobs.filter((j) => j.preemptible).length / jobs.length;
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(0.6);
  });

  it('gives windows of a stated length in hours ("4 hours within the next 24"), never shorter than the run time', () => {
    const jobs = generateWorkload(
      spec([tenant({ windowShare: 1, windowSlack: undefined, windowHours: { dist: 'uniform', min: 2, max: 3 } })]),
      4,
    ).jobs;
    let longRuns = 0;
    for (const j of jobs) {
      const length = j.window!.deadline - j.window!.notBefore;
      expect(length).toBe(Math.max(j.runtimeSeconds, length));
      if (j.runtimeSeconds < 2 * 3600) {
        expect(length).toBeGreaterThanOrEqual(2 * 3600);
        expect(length).toBeLessThanOrEqual(3 * 3600);
      } else (longRuns++, expect(length).toBeGreaterThanOrEqual(j.runtimeSeconds));
    }
    expect(longRuns).toBeGreaterThan(0);
    expect(() => validateScenario(spec([tenant({ windowSlack: undefined })]))).toThrow(
      /tenants\[0\]: windowShare > 0 needs windowSlack or windowHours/,
    );
  });

  it('builds the fleet with nodes grouped into blocks', () => {
    const nodes = generateWorkload(spec(), 1).nodes;
    expect(nodes.map((n) => n.block)).toEqual(['H100-r-b0', 'H100-r-b0', 'H100-r-b1', 'A100-r-b0']);
    expect(nodes[3].reservePrice.toFixed(2)).toBe('0.30');
  });

  it('draws every limit from identicalLimits when the scenario sets it, whatever the class, and says so', () => {
    const byClass = generateWorkload(spec(), 4, 24);
    const same = generateWorkload({ ...spec(), identicalLimits: { dist: 'const', value: 2.5 } }, 4, 24);
    // The same jobs (arrivals, gangs, windows) with only their limits changed: 2.5 on the H100, 1.25 on the A100 (x
    // 0.5).
    expect(same.jobs.map((j) => [j.id, j.arrival, j.gpus, j.window])).toEqual(
      byClass.jobs.map((j) => [j.id, j.arrival, j.gpus, j.window]),
    );
    expect(new Set(same.jobs.map((j) => j.offers.map((o) => o.maxPrice.toFixed(2)).join('/')))).toEqual(
      new Set(['2.50/1.25']),
    );
    expect(new Set(byClass.jobs.map((j) => j.offers[0].maxPrice.toFixed(2))).size).toBeGreaterThan(3);
    expect([byClass.limits, same.limits]).toEqual(['by-class', 'identical']);
    expect(same.notes[0]).toMatch(/identical for every flexibility class/);
    expect(() => validateScenario({ ...spec(), identicalLimits: 2.5 as never })).toThrow(
      /scenario\.identicalLimits: must be a distribution/,
    );
  });

  it('rejects a scenario whose tenant asks for a model the fleet lacks, naming the field', () => {
    const bad = spec([tenant({ models: [{ gpuModel: 'B200', valueFactor: 1 }] })]);
    expect(() => validateScenario(bad)).toThrow(ScenarioError);
    expect(() => validateScenario(bad)).toThrow(/tenants\[0\]\.models: unknown gpuModel B200/);
    expect(() => validateScenario({ ...spec(), periodSeconds: 0 })).toThrow(/periodSeconds/);
  });
});
