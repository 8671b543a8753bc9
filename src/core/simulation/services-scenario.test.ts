import { describe, expect, it } from 'vitest';
import { DIURNAL_H100_INDEX_BY_UTC_HOUR } from './services-market.js';
import { runServicesScenario, SERVICES_DEFAULTS, type ServicesScenario } from './services-scenario.js';
import { servicesSummaryText } from './services-summary.js';
import { DEFAULT_SERVICE_TIME, shapeDemand, type AzureRequestRow } from './services-trace.js';

/** Two 60-s trace windows of steady traffic (one request every 200 ms), an hour of silence after each. */
const rows: AzureRequestRow[] = Array.from({ length: 600 }, (_, i) => ({
  offsetMs: i * 200,
  contextTokens: 500,
  generatedTokens: 100,
}));
const scenario: ServicesScenario = {
  seed: 1,
  trace: { name: 'hand-made', rows: rows.length },
  shape: { timeScale: 1, windowSeconds: 60, gapSeconds: 3600, traceSeconds: null },
  serviceTime: DEFAULT_SERVICE_TIME,
  service: { ...SERVICES_DEFAULTS.service, maxReplicas: 4, fixedMinReplicas: 1 },
  coldStart: SERVICES_DEFAULTS.coldStart,
  market: {
    epoch: '2023-11-16T06:00:00.000Z',
    indexByUtcHour: DIURNAL_H100_INDEX_BY_UTC_HOUR,
    maxPrice: '2.00',
    gpusPerReplica: 1,
    roundSeconds: 60,
    fastRoundSeconds: 2,
  },
  sloSeconds: 30,
};

describe('runServicesScenario', () => {
  const demand = shapeDemand(rows, scenario.shape);
  const report = runServicesScenario(scenario, demand);
  const by = Object.fromEntries(report.policies.map((p) => [p.policy, p]));

  it('runs the three policies on the same requests', () => {
    expect(report.policies.map((p) => p.policy)).toEqual(['scale-to-zero', 'always-on', 'fixed-minimum']);
    for (const p of report.policies) expect(p.metrics.requests).toBe(600);
  });

  it('always-on pays maxReplicas x the replay; the others pay less, scale-to-zero least, and pay for it in cold starts', () => {
    const hours = demand.horizonMs / 3_600_000;
    expect(by['always-on'].metrics.gpuHoursPaid).toBeCloseTo(4 * hours, 3);
    expect(by['always-on'].gpuHoursSavedVsAlwaysOn).toBe(0);
    expect(by['fixed-minimum'].metrics.gpuHoursPaid).toBeGreaterThanOrEqual(1 * hours);
    expect(by['scale-to-zero'].metrics.gpuHoursPaid).toBeLessThan(by['fixed-minimum'].metrics.gpuHoursPaid);
    expect(by['scale-to-zero'].gpuHoursSavedVsAlwaysOn).toBeGreaterThan(by['fixed-minimum'].gpuHoursSavedVsAlwaysOn);
    expect(by['scale-to-zero'].metrics.coldStartsFromZero).toBeGreaterThanOrEqual(2);
    expect(by['always-on'].metrics.coldStarts).toBe(0);
    expect(by['scale-to-zero'].metrics.latencySeconds.p99!).toBeGreaterThan(
      by['always-on'].metrics.latencySeconds.p99!,
    );
    // Money is decimal text, and the saving is always-on's cost less this policy's.
    expect(by['scale-to-zero'].costSavedVsAlwaysOn).toMatch(/^\d+\.\d{6}$/);
    expect(Number(by['scale-to-zero'].costSavedVsAlwaysOn)).toBeGreaterThan(0);
  });

  it('prints one row per measure with a column per policy, and the definitions', () => {
    const text = servicesSummaryText(report);
    expect(text).toMatch(/\| measure +\| scale-to-zero +\| always-on +\| fixed-minimum +\|/);
    expect(text).toMatch(/\| GPU-hours paid /);
    expect(text).toMatch(/flaps: scale-ups decided within 2 x scaleDownDelaySeconds/);
  });
});
