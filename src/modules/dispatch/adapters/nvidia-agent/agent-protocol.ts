import type { PlaceOrder, WorkloadState } from '../provider-adapter.js';

/**
 * The wire protocol between the market and `gpumarket agent` on a GPU node (docs/adapters.md).
 * Every request carries the provider's API key as `Authorization: Bearer <key>`.
 *
 *   PUT  /v1/nodes                               register the node (inventory endpoint)
 *   GET  /v1/agent/orders?node=<id>&waitSeconds=25   long poll for orders
 *   POST /v1/agent/orders/:id/ack                accept or refuse an order
 *   POST /v1/leases/:id/status                   report the workload's state
 *   GET  /v1/agent/leases?node=<id>              what the market believes runs on the node
 */
export type AgentOrderType = 'place' | 'preempt' | 'terminate';

export interface AgentOrder {
  readonly id: string;
  readonly type: AgentOrderType;
  readonly leaseId: string;
  /** For `place`: the lease's order, with `nodes` narrowed to this agent's node. */
  readonly place?: PlaceOrder;
  /** For `preempt`/`terminate`: seconds from SIGTERM to SIGKILL. */
  readonly graceSeconds?: number;
}

export interface PullOrdersResponse {
  readonly orders: AgentOrder[];
}

export type AgentAck =
  | { readonly ok: true; readonly handle?: string; readonly gpuIndices?: number[] }
  | { readonly ok: false; readonly error: { readonly kind: 'retryable' | 'permanent'; readonly message: string } };

/** The states an agent reports; `pending` and `unknown` are the market's own. */
export type ReportedState = Extract<WorkloadState, 'running' | 'completed' | 'failed' | 'stopped'>;

export interface StatusReport {
  readonly state: ReportedState;
  readonly exitCode?: number;
  readonly message?: string;
  /**
   * The reporting node's externalId. An addition to the body: a lease spanning several
   * nodes gets one report per node, and the market needs to tell them apart.
   */
  readonly node?: string;
  /**
   * A service replica's address (host:port), once its readiness path answered 200 on the node;
   * the market's gateway sends requests there (docs/services.md).
   */
  readonly endpoint?: string;
  /** When the replica's process started, first accepted a connection, and got ready (epoch ms). */
  readonly serving?: { readonly spawnedAt: number; readonly listeningAt?: number; readonly readyAt?: number };
}

/**
 * A workload that carries SERVICE_PORT_ENV is a service's replica: whoever runs it gives it a
 * free port in PORT (replicas may share a host, so the declared port cannot be used as is; a
 * container keeps the declared port inside and is published on the free one) and reports its
 * endpoint once its readiness path (SERVICE_READINESS_ENV, default `/`) answers 200.
 */
export const SERVICE_PORT_ENV = 'GPUMARKET_SERVICE_PORT';
export const SERVICE_READINESS_ENV = 'GPUMARKET_READINESS_PATH';

export interface MarketLeaseView {
  readonly leaseId: string;
  readonly state: string;
}

export interface AgentLeasesResponse {
  readonly leases: MarketLeaseView[];
}

export interface NodeRegistration {
  readonly externalId: string;
  readonly gpuModel: string;
  readonly gpus: number;
  readonly region: string;
  readonly block: string;
  readonly nvlinkDomain?: string;
  readonly compliance?: string[];
  readonly reservePrice: string;
}
