import type { AgentAck, AgentOrder, AgentOrderType, MarketLeaseView, StatusReport } from './agent-protocol.js';

/**
 * Where the market keeps the orders its node agents pull, their acknowledgements and the agents'
 * status reports. The in-memory implementation serves tests and single-process demos; the market
 * loop stores the same things in PostgreSQL behind this port.
 */
export interface AgentOrderQueue {
  /** Whether a node with this externalId is registered with this provider. */
  isRegistered(node: string): Promise<boolean>;
  /**
   * Queues an order for the node unless one of the same type for the same lease and node exists
   * whose acknowledgement was not a retryable refusal; then that one is returned.
   */
  enqueue(node: string, order: Omit<AgentOrder, 'id'>): Promise<AgentOrder>;
  /** Unacknowledged orders of the node, oldest first; waits up to waitMs for one to appear. */
  pull(node: string, waitMs: number, signal?: AbortSignal): Promise<AgentOrder[]>;
  acknowledge(orderId: string, ack: AgentAck): Promise<void>;
  /** The order's acknowledgement, waiting up to timeoutMs; undefined when none came in time. */
  awaitAck(orderId: string, timeoutMs: number): Promise<AgentAck | undefined>;
  recordStatus(leaseId: string, node: string, report: StatusReport): Promise<void>;
  /** The latest report of each node of the lease. */
  statuses(leaseId: string): Promise<ReadonlyMap<string, StatusReport>>;
  /** What the market believes runs on the node (for an agent's re-sync). */
  leasesOnNode(node: string): Promise<MarketLeaseView[]>;
}

export type AgentOrderKey = `${string}|${string}|${AgentOrderType}`;
