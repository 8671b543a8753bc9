import {
  Column,
  CreateDateColumn,
  Entity,
  OneToMany,
  ManyToOne,
  JoinColumn,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { Contiguity, LossReason } from '../../core/market/types.js';

export type BidStatus = 'open' | 'allocated' | 'running' | 'completed' | 'cancelled' | 'expired' | 'failed';
export const BID_STATUSES: readonly BidStatus[] = [
  'open',
  'allocated',
  'running',
  'completed',
  'cancelled',
  'expired',
  'failed',
];
/** A bid in one of these states is done: it can no longer be cancelled or change. */
export const FINISHED_BID_STATUSES: readonly BidStatus[] = ['completed', 'cancelled', 'expired', 'failed'];

export interface WorkloadSpec {
  readonly image?: string;
  readonly command?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

@Entity({ name: 'bids' })
export class BidEntity {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  status: BidStatus;

  @Column({ type: 'integer' })
  gpus: number;

  @Column({ type: 'text' })
  contiguity: Contiguity;

  @Column({ type: 'boolean' })
  preemptible: boolean;

  @Column({ name: 'runtime_seconds', type: 'integer' })
  runtimeSeconds: number;

  @Column({ name: 'remaining_seconds', type: 'integer' })
  remainingSeconds: number;

  @Column({ name: 'not_before', type: 'timestamptz', nullable: true })
  notBefore: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  deadline: Date | null;

  @Column({ type: 'text', array: true })
  regions: string[];

  @Column({ type: 'text', array: true })
  compliance: string[];

  @Column({ name: 'min_gpu_memory_gb', type: 'integer' })
  minGpuMemoryGb: number;

  @Column({ type: 'jsonb' })
  workload: WorkloadSpec;

  @Column({ name: 'last_loss_reason', type: 'text', nullable: true })
  lastLossReason: LossReason | null;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey: string | null;

  @Column({ name: 'request_hash', type: 'text', nullable: true })
  requestHash: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @OneToMany(() => BidOfferEntity, (offer) => offer.bid)
  offers: BidOfferEntity[];
}

@Entity({ name: 'bid_offers' })
export class BidOfferEntity {
  @PrimaryColumn({ name: 'bid_id', type: 'uuid' })
  bidId: string;

  @PrimaryColumn({ type: 'smallint' })
  rank: number;

  @Column({ name: 'gpu_model', type: 'text' })
  gpuModel: string;

  /** numeric: read as a decimal string. */
  @Column({ name: 'max_price', type: 'numeric' })
  maxPrice: string;

  @ManyToOne(() => BidEntity, (bid) => bid.offers)
  @JoinColumn({ name: 'bid_id' })
  bid: BidEntity;
}
