import { Money, parsePrice, toMoney } from '../money/money.js';
import type { MarketNode, Offer } from '../market/types.js';
import { Rng } from './rng.js';
import type { MarketParams, SimJob, Workload } from './workload.js';

/**
 * Turns rows of the Alibaba GPU cluster trace format (cluster-trace-gpu-v2023: a node list and
 * a pod list) into a workload. The trace has no prices, tenants, regions or deadlines; what is
 * synthesised in their place is written into the workload's notes, so every report says it.
 */
export interface TraceNodeRow {
  readonly sn: string;
  readonly gpu: number;
  readonly model: string;
}

export interface TracePodRow {
  readonly name: string;
  readonly numGpu: number;
  readonly gpuMilli: number;
  /** Acceptable models separated by `|`; empty for any. */
  readonly gpuSpec: string;
  readonly qos: string;
  readonly phase: string;
  readonly creationTime: number;
  readonly deletionTime: number | null;
  readonly scheduledTime: number | null;
}

/** Assumed provider asks per GPU-hour (USD) and memory; G2 and G3 are undisclosed in the trace. */
export const TRACE_GPU_MODELS: Readonly<Record<string, { reserve: string; memoryGb: number }>> = {
  T4: { reserve: '0.25', memoryGb: 16 },
  P100: { reserve: '0.40', memoryGb: 16 },
  A10: { reserve: '0.45', memoryGb: 24 },
  V100M16: { reserve: '0.70', memoryGb: 16 },
  V100M32: { reserve: '0.85', memoryGb: 32 },
  G2: { reserve: '0.90', memoryGb: 32 },
  G3: { reserve: '1.20', memoryGb: 80 },
};
const UNKNOWN_MODEL = { reserve: '0.50', memoryGb: 16 };

/**
 * Public on-demand list prices per GPU-hour (USD, 2025 price lists; a tenant's outside option):
 * T4 0.35, P100 1.46, V100 16 GB 2.48 (Google Cloud, per attached GPU, us-central1); A10 1.01
 * (AWS g5.xlarge); V100 32 GB 3.90 (AWS p3dn.24xlarge / 8). G2 and G3 are undisclosed: G2
 * (32 GB) is priced as the V100 32 GB, G3 (80 GB) as an A100 80 GB, 5.12 (AWS p4de.24xlarge / 8).
 */
export const TRACE_LIST_PRICES: Readonly<Record<string, string>> = {
  T4: '0.35',
  P100: '1.46',
  A10: '1.01',
  V100M16: '2.48',
  V100M32: '3.90',
  G2: '3.90',
  G3: '5.12',
};
const UNKNOWN_LIST_PRICE = '1.00';

/**
 * A pod values its work, not the hardware: value per GPU-hour = a multiplier drawn uniformly per
 * QoS class x the list price of the cheapest model it accepts (by list price) that has a node big
 * enough for the pod, the same for every
 * model it accepts. So a pod that runs on any model is worth what the cheapest GPU costs
 * elsewhere, and nothing sends it to the dearest GPU. The multipliers keep every value above the
 * cheapest reserve (T4: 0.25 = 0.71 x its list price).
 */
export const TRACE_VALUE_MULTIPLIERS: Readonly<Record<string, { min: number; max: number; preemptible: boolean }>> = {
  Guaranteed: { min: 1.2, max: 1.6, preemptible: false },
  LS: { min: 1.0, max: 1.4, preemptible: false },
  Burstable: { min: 0.85, max: 1.1, preemptible: true },
  BE: { min: 0.75, max: 0.95, preemptible: true },
};

export interface TraceReplayOptions {
  readonly seed: number;
  /** Trace second at which the replay starts; pods alive then join at virtual second 0. */
  readonly windowStart: number;
  readonly hours: number;
  readonly params: MarketParams;
  readonly nodesPerBlock?: number;
  readonly region?: string;
  readonly epoch?: string;
}

export const TRACE_REGION = 'trace';

export function traceNodes(rows: readonly TraceNodeRow[], nodesPerBlock = 32, region = TRACE_REGION): MarketNode[] {
  const seen = new Map<string, number>();
  return rows
    .filter((r) => r.gpu > 0)
    .map((r) => {
      const k = seen.get(r.model) ?? 0;
      seen.set(r.model, k + 1);
      const model = TRACE_GPU_MODELS[r.model] ?? UNKNOWN_MODEL;
      return {
        id: r.sn,
        provider: 'alibaba-trace',
        gpuModel: r.model,
        gpuMemoryGb: model.memoryGb,
        gpus: r.gpu,
        unavailableGpus: 0,
        region,
        block: `${r.model}-b${Math.floor(k / nodesPerBlock)}`,
        nvlinkDomain: r.sn,
        compliance: [],
        reservePrice: parsePrice(model.reserve),
      };
    });
}

function offersFor(
  pod: TracePodRow,
  models: readonly string[],
  multiplier: number,
  largestNode: ReadonlyMap<string, number>,
): Offer[] {
  const listed =
    pod.gpuSpec.trim() === ''
      ? models
      : [...new Set(pod.gpuSpec.split('|').map((s) => s.trim()))].filter((m) => models.includes(m));
  const reserve = (m: string) => new Money((TRACE_GPU_MODELS[m] ?? UNKNOWN_MODEL).reserve);
  const list = (m: string) => new Money(TRACE_LIST_PRICES[m] ?? UNKNOWN_LIST_PRICE);
  if (listed.length === 0) return [];
  // The cheapest model that can hold the gang on one node (pods are node-contiguous): an 8-GPU
  // pod is not valued at the price of a model whose nodes have 2 GPUs.
  const holding = listed.filter((m) => (largestNode.get(m) ?? 0) >= pod.numGpu);
  const value = toMoney(
    (holding.length > 0 ? holding : listed)
      .map(list)
      .reduce((a, b) => (b.lessThan(a) ? b : a))
      .times(multiplier)
      .toFixed(4),
  );
  // Cheapest acceptable model first: what a cost-aware tenant prefers and what first-fit tries first.
  return [...listed]
    .sort((a, b) => reserve(a).comparedTo(reserve(b)) || (a < b ? -1 : 1))
    .map((gpuModel) => ({ gpuModel, maxPrice: value }));
}

export function traceWorkload(
  nodeRows: readonly TraceNodeRow[],
  podRows: readonly TracePodRow[],
  options: TraceReplayOptions,
): Workload {
  const nodes = traceNodes(nodeRows, options.nodesPerBlock, options.region);
  const models = [...new Set(nodes.map((n) => n.gpuModel))].sort();
  const largestNode = new Map<string, number>();
  for (const n of nodes) largestNode.set(n.gpuModel, Math.max(largestNode.get(n.gpuModel) ?? 0, n.gpus));
  const start = options.windowStart;
  const horizon = Math.round(options.hours * 3600);
  const skipped = { cpuOnly: 0, neverScheduled: 0, outside: 0, noModel: 0, shared: 0 };
  const jobs: SimJob[] = [];
  for (const pod of podRows) {
    if (pod.numGpu <= 0) {
      skipped.cpuOnly++;
      continue;
    }
    if (pod.scheduledTime === null || pod.deletionTime === null) {
      skipped.neverScheduled++;
      continue;
    }
    if (pod.deletionTime <= start || pod.creationTime >= start + horizon) {
      skipped.outside++;
      continue;
    }
    const qos = TRACE_VALUE_MULTIPLIERS[pod.qos] ?? TRACE_VALUE_MULTIPLIERS.BE;
    const multiplier = Rng.stream(options.seed, pod.name).uniform(qos.min, qos.max);
    const offers = offersFor(pod, models, multiplier, largestNode);
    if (offers.length === 0) {
      skipped.noModel++;
      continue;
    }
    if (pod.numGpu === 1 && pod.gpuMilli > 0 && pod.gpuMilli < 1000) skipped.shared++;
    const arrival = Math.max(0, pod.creationTime - start);
    jobs.push({
      id: pod.name,
      tenant: pod.qos || 'BE',
      arrival,
      gpus: pod.numGpu,
      runtimeSeconds: Math.max(1, pod.deletionTime - Math.max(pod.creationTime, start)),
      preemptible: qos.preemptible,
      window: null,
      offers,
      contiguity: 'node',
      regions: [],
    });
  }
  jobs.sort((a, b) => a.arrival - b.arrival || (a.id < b.id ? -1 : 1));
  const tenants = [...new Set(jobs.map((j) => j.tenant))].sort();
  return {
    name: 'alibaba-gpu-2023',
    description: `Alibaba GPU cluster trace 2023 replay: trace seconds ${start}..${start + horizon}`,
    epoch: options.epoch ?? '2023-01-02T00:00:00.000Z',
    horizonSeconds: horizon,
    nodes,
    jobs,
    tenants,
    params: options.params,
    notes: [
      `Supply: every node of nodes.csv (${nodes.length} nodes, ${nodes.reduce((a, n) => a + n.gpus, 0)} GPUs) in one region "${options.region ?? TRACE_REGION}", blocks of ${options.nodesPerBlock ?? 32} nodes per model; reserve prices per model assumed: ${Object.entries(
        TRACE_GPU_MODELS,
      )
        .map(([m, v]) => `${m} ${v.reserve}`)
        .join(', ')} USD per GPU-hour.`,
      `Demand: pods with num_gpu >= 1 and a scheduled_time; arrival = creation_time, run time = deletion_time - creation_time; pods alive when the window opens join at second 0 with the run time they had left. Skipped: ${skipped.cpuOnly} CPU-only, ${skipped.neverScheduled} never scheduled (run time unknown), ${skipped.outside} outside the window, ${skipped.noModel} with no model in the fleet.`,
      `GPU-sharing pods (gpu_milli < 1000, ${skipped.shared} of them) take a whole GPU: the market sells whole GPUs.`,
      `Values (not in the trace): per pod, one value per GPU-hour for every model it accepts = the public on-demand list price of the cheapest model it accepts that has a node big enough for the pod (${Object.entries(
        TRACE_LIST_PRICES,
      )
        .map(([m, v]) => `${m} ${v}`)
        .join(
          ', ',
        )} USD per GPU-hour; G2 and G3 undisclosed, priced as V100 32 GB and A100 80 GB) x a multiplier drawn uniformly per QoS (seeded by the pod name): ${Object.entries(
        TRACE_VALUE_MULTIPLIERS,
      )
        .map(([q, v]) => `${q} ${v.min}-${v.max}x${v.preemptible ? ' preemptible' : ''}`)
        .join(', ')}. gpu_spec lists acceptable models (empty: any), offered cheapest reserve first.`,
      'Tenants: the trace has no tenant ids, so each QoS class is treated as one tenant (for the dedicated baseline). No windows: the trace has no deadlines, so deadline hit rate does not apply.',
    ],
  };
}
