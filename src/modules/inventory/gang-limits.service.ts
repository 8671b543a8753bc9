import { Injectable } from '@nestjs/common';
import { NodesRepository } from './nodes.repository.js';

const CACHE_MS = 5_000;

export interface GangLimits {
  /** GPUs of the largest node of the models; null when none is registered. */
  readonly node: number | null;
  /** GPUs of the largest NVLink domain of the models; null when none is registered. */
  readonly nvlink: number | null;
}

/**
 * The largest gang the registered inventory could hold, per set of GPU models, used to refuse
 * bids whose contiguity can never be met. Asked on every node- or NVLink-contiguous bid, so it
 * is cached briefly; this replica's own node changes clear it at once, another replica's are
 * seen within CACHE_MS.
 */
@Injectable()
export class GangLimitsService {
  private readonly cache = new Map<string, { limits: GangLimits; expires: number }>();

  constructor(private readonly nodes: NodesRepository) {}

  async forModels(gpuModels: readonly string[]): Promise<GangLimits> {
    const key = [...gpuModels].sort().join('\u0000');
    const hit = this.cache.get(key);
    if (hit && hit.expires > Date.now()) return hit.limits;
    const limits = await this.nodes.largestGangs(gpuModels);
    if (this.cache.size > 1_000) this.cache.clear();
    this.cache.set(key, { limits, expires: Date.now() + CACHE_MS });
    return limits;
  }

  invalidate(): void {
    this.cache.clear();
  }
}
