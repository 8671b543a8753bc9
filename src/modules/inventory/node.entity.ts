import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type NodeState = 'active' | 'draining' | 'down';
export const NODE_STATES: readonly NodeState[] = ['active', 'draining', 'down'];

@Entity({ name: 'nodes' })
export class NodeEntity {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ name: 'provider_id', type: 'uuid' })
  providerId: string;

  @Column({ name: 'external_id', type: 'text' })
  externalId: string;

  @Column({ name: 'gpu_model', type: 'text' })
  gpuModel: string;

  @Column({ type: 'integer' })
  gpus: number;

  @Column({ type: 'text' })
  region: string;

  @Column({ type: 'text' })
  block: string;

  @Column({ name: 'nvlink_domain', type: 'text' })
  nvlinkDomain: string;

  @Column({ type: 'text', array: true })
  compliance: string[];

  /** numeric: read as a decimal string, parsed with core/money. */
  @Column({ name: 'reserve_price', type: 'numeric' })
  reservePrice: string;

  @Column({ type: 'text' })
  state: NodeState;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
