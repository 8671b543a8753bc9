import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GpuModelEntity } from './gpu-model.entity.js';

export interface GpuModel {
  readonly name: string;
  readonly memoryGb: number;
  readonly bf16Tflops: string;
  readonly memoryBandwidthTBs: string;
}

@Injectable()
export class GpuModelsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(): Promise<GpuModel[]> {
    const rows = await this.dataSource.getRepository(GpuModelEntity).find({ order: { memoryGb: 'DESC', name: 'ASC' } });
    return rows.map(({ name, memoryGb, bf16Tflops, memoryBandwidthTBs }) => ({
      name,
      memoryGb,
      bf16Tflops,
      memoryBandwidthTBs,
    }));
  }

  /** False when the name is taken. */
  async insert(model: GpuModel): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO gpu_models (name, memory_gb, bf16_tflops, memory_bandwidth_tbs) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO NOTHING RETURNING name`,
      [model.name, model.memoryGb, model.bf16Tflops, model.memoryBandwidthTBs],
    );
    return rows.length === 1;
  }
}
