import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'gpu_models' })
export class GpuModelEntity {
  @PrimaryColumn({ type: 'text' })
  name: string;

  @Column({ name: 'memory_gb', type: 'integer' })
  memoryGb: number;

  /** numeric: read as a decimal string. */
  @Column({ name: 'bf16_tflops', type: 'numeric' })
  bf16Tflops: string;

  @Column({ name: 'memory_bandwidth_tbs', type: 'numeric' })
  memoryBandwidthTBs: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
