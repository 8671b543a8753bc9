import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Money, toMoney } from '../../src/core/money/money.js';
import { TRACE_GPU_MODELS, TRACE_LIST_PRICES, traceWorkload } from '../../src/core/simulation/trace-model.js';
import { parseTracePods, readTraceDirectory, TraceFormatError } from '../../src/simulation/trace-reader.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const params = {
  periodSeconds: 60,
  feePercent: toMoney(10),
  preemptionPenalty: toMoney('0.05'),
  minHoldSeconds: 600,
  preemptionNoticeSeconds: 120,
};

describe('trace importer (Alibaba GPU trace format)', () => {
  it('reads nodes.csv and the pods file of a trace directory', async () => {
    const trace = await readTraceDirectory(join(here, 'fixtures/mini-trace'));
    expect(trace.nodes.map((n) => [n.sn, n.gpu, n.model])).toEqual([
      ['node-a', 2, 'T4'],
      ['node-b', 8, 'V100M32'],
      ['node-c', 0, 'CPU'],
    ]);
    expect(trace.pods).toHaveLength(7);
    expect(trace.pods.find((p) => p.name === 'pod-pending')).toMatchObject({
      scheduledTime: null,
      deletionTime: 9000,
      qos: 'BE',
    });
  });

  it('maps supply and demand with a replay window', async () => {
    const trace = await readTraceDirectory(join(here, 'fixtures/mini-trace'));
    const w = traceWorkload(trace.nodes, trace.pods, { seed: 7, windowStart: 1000, hours: 2, params });
    // GPU-less nodes are not supply.
    expect(w.nodes.map((n) => [n.id, n.gpuModel, n.gpus, n.reservePrice.toFixed(2)])).toEqual([
      ['node-a', 'T4', 2, TRACE_GPU_MODELS.T4.reserve],
      ['node-b', 'V100M32', 8, TRACE_GPU_MODELS.V100M32.reserve],
    ]);
    const byId = new Map(w.jobs.map((j) => [j.id, j]));
    // CPU-only, never-scheduled and after-the-window pods are left out; a pod asking only for
    // a model the fleet lacks (P100) cannot run and is left out too.
    expect([...byId.keys()].sort()).toEqual(['pod-gang', 'pod-old', 'pod-share']);
    // Alive when the window opens: joins at 0 with the run time it had left.
    expect(byId.get('pod-old')).toMatchObject({
      arrival: 0,
      runtimeSeconds: 4000,
      preemptible: false,
      tenant: 'LS',
      gpus: 1,
    });
    // gpu_spec lists acceptable models; V100M16 is not in this fleet.
    expect(byId.get('pod-gang')!.offers.map((o) => o.gpuModel)).toEqual(['V100M32']);
    expect(byId.get('pod-gang')).toMatchObject({
      arrival: 1000,
      runtimeSeconds: 7200,
      gpus: 8,
      preemptible: false,
      contiguity: 'node',
    });
    // A GPU-sharing pod takes a whole GPU; BE is preemptible.
    expect(byId.get('pod-share')).toMatchObject({ gpus: 1, preemptible: true, arrival: 500, runtimeSeconds: 300 });
    // An empty gpu_spec accepts every model, cheapest first.
    expect(byId.get('pod-old')!.offers.map((o) => o.gpuModel)).toEqual(['T4', 'V100M32']);
    expect(w.notes.join(' ')).toMatch(/multiplier drawn uniformly per QoS/);
  });

  it('synthesises one value per pod from public list prices and the QoS class, reproducibly, so any-model work is not pulled to the dearest GPU', async () => {
    const trace = await readTraceDirectory(join(here, 'fixtures/mini-trace'));
    const a = traceWorkload(trace.nodes, trace.pods, { seed: 7, windowStart: 0, hours: 3, params });
    const b = traceWorkload(trace.nodes, trace.pods, { seed: 7, windowStart: 0, hours: 3, params });
    expect(a.jobs).toEqual(b.jobs);
    const gang = a.jobs.find((j) => j.id === 'pod-gang')!;
    // the one model it accepts that the fleet has
    const ratio = gang.offers[0].maxPrice.dividedBy(new Money(TRACE_LIST_PRICES.V100M32)).toNumber();
    expect(ratio).toBeGreaterThanOrEqual(1.2); // Guaranteed: 1.2-1.6x the list price
    expect(ratio).toBeLessThanOrEqual(1.6);
    const be = a.jobs.find((j) => j.id === 'pod-share')!;
    const beRatio = be.offers[0].maxPrice.dividedBy(new Money(TRACE_LIST_PRICES.T4)).toNumber();
    expect(beRatio).toBeGreaterThanOrEqual(0.75);
    expect(beRatio).toBeLessThanOrEqual(0.95);
    // A pod that accepts any model values every model alike, at the cheapest model's list price x
    // its multiplier (LS: 1.0-1.4): the T4 comes first and nothing rewards the dearer V100.
    const any = a.jobs.find((j) => j.id === 'pod-old')!;
    expect(any.offers.map((o) => o.gpuModel)).toEqual(['T4', 'V100M32']);
    expect(any.offers[0].maxPrice.equals(any.offers[1].maxPrice)).toBe(true);
    const anyRatio = any.offers[0].maxPrice.dividedBy(new Money(TRACE_LIST_PRICES.T4)).toNumber();
    expect(anyRatio).toBeGreaterThanOrEqual(1.0);
    expect(anyRatio).toBeLessThanOrEqual(1.4);
    // An 8-GPU pod that accepts any model cannot run on the 2-GPU T4 node: it is worth the list
    // price of the cheapest model that can hold it (V100 32 GB), so it can pay that model's reserve.
    const big = traceWorkload(
      trace.nodes,
      [{ ...trace.pods.find((p) => p.name === 'pod-old')!, name: 'pod-big', numGpu: 8 }],
      { seed: 7, windowStart: 0, hours: 3, params },
    );
    const bigRatio = big.jobs[0].offers[0].maxPrice.dividedBy(new Money(TRACE_LIST_PRICES.V100M32)).toNumber();
    expect(bigRatio).toBeGreaterThanOrEqual(1.0);
    expect(bigRatio).toBeLessThanOrEqual(1.4);
  });

  it('names the file, line and column of a malformed value', () => {
    const text =
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\np,1,1,x,0,,LS,Running,0,1,0\n';
    expect(() => parseTracePods(text, 'pods.csv')).toThrow('pods.csv:2: num_gpu must be a number, got "x"');
  });

  it('refuses a pods file without the columns the replay needs', () => {
    expect(() => parseTracePods('name,num_gpu\np,1\n')).toThrow(TraceFormatError);
  });

  it('imports the shipped Alibaba trace: 1,213 GPU nodes and 8,152 pods', async () => {
    const trace = await readTraceDirectory(
      fileURLToPath(new URL('../../../shared/traces/alibaba-gpu-2023', import.meta.url)),
    );
    expect(trace.nodes).toHaveLength(1213);
    expect(trace.pods).toHaveLength(8152);
    const w = traceWorkload(trace.nodes, trace.pods, { seed: 1, windowStart: 0, hours: 3584, params });
    expect(w.nodes.reduce((a, n) => a + n.gpus, 0)).toBe(6212);
    // 8,152 pods less 1,088 CPU-only and 897 never scheduled.
    expect(w.jobs.length).toBeGreaterThan(6000);
    expect(w.jobs.every((j) => j.offers.length > 0 && j.runtimeSeconds > 0)).toBe(true);
  });
});
