import { Money, toMoney } from '../money/money.js';
import type { MarketNode } from '../market/types.js';
import type { SimJob, Workload } from './workload.js';

/** Small hand-made workloads for the simulator's tests. */
export function node(id: string, gpus = 8, over: Partial<MarketNode> = {}): MarketNode {
  return {
    id,
    provider: 'p',
    gpuModel: 'H100',
    gpuMemoryGb: 80,
    gpus,
    unavailableGpus: 0,
    region: 'r',
    block: 'b0',
    nvlinkDomain: id,
    compliance: [],
    reservePrice: new Money('1.00'),
    ...over,
  };
}

export function job(
  id: string,
  tenant: string,
  arrival: number,
  gpus: number,
  runtimeSeconds: number,
  over: Partial<SimJob> = {},
): SimJob {
  return {
    id,
    tenant,
    arrival,
    gpus,
    runtimeSeconds,
    preemptible: false,
    window: null,
    offers: [{ gpuModel: 'H100', maxPrice: new Money('5.00') }],
    contiguity: 'node',
    regions: [],
    ...over,
  };
}

export function workload(
  nodes: MarketNode[],
  jobs: SimJob[],
  horizonSeconds: number,
  over: Partial<Workload> = {},
): Workload {
  return {
    name: 'tiny',
    description: 'hand-checked',
    epoch: '2026-01-05T00:00:00.000Z',
    horizonSeconds,
    nodes,
    jobs,
    tenants: [...new Set(jobs.map((j) => j.tenant))],
    params: {
      periodSeconds: 60,
      feePercent: toMoney(10),
      preemptionPenalty: toMoney('0.05'),
      minHoldSeconds: 600,
      preemptionNoticeSeconds: 120,
    },
    notes: [],
    ...over,
  };
}
