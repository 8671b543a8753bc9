import { Injectable } from '@nestjs/common';
import { InventoryError, InventoryErrorCode } from './inventory.error.js';
import { type GpuModel, GpuModelsRepository } from './gpu-models.repository.js';

const CACHE_MS = 5_000;

/**
 * The GPU model catalogue. Bid and node validation look models up on every request, and the
 * catalogue changes rarely, so it is cached briefly (another replica's new model is seen within
 * CACHE_MS; this replica's own additions at once).
 */
@Injectable()
export class GpuCatalogService {
  private cached: { models: Map<string, GpuModel>; expires: number } | null = null;

  constructor(private readonly repository: GpuModelsRepository) {}

  async models(): Promise<Map<string, GpuModel>> {
    if (this.cached && this.cached.expires > Date.now()) return this.cached.models;
    const models = new Map((await this.repository.list()).map((m) => [m.name, m]));
    this.cached = { models, expires: Date.now() + CACHE_MS };
    return models;
  }

  async list(): Promise<GpuModel[]> {
    return [...(await this.models()).values()];
  }

  async add(model: GpuModel): Promise<GpuModel> {
    if (!(await this.repository.insert(model))) {
      throw new InventoryError(InventoryErrorCode.GpuModelExists, `GPU model ${model.name} already exists`);
    }
    this.cached = null;
    return model;
  }
}
