import {
  AdapterError,
  type PlaceOrder,
  type ProviderAdapter,
  type StatusContext,
  type StopOrder,
  type WorkloadStatus,
} from '../provider-adapter.js';
import type { AgentOrderQueue } from './agent-order-queue.js';
import type { AgentAck, StatusReport } from './agent-protocol.js';

/**
 * The market side of the `nvidia-agent` adapter: orders become queued agent orders (one per
 * granted node), which the node's `gpumarket agent` pulls, acknowledges and reports on. Place and
 * stop wait for the agents' acknowledgements so that a refusal comes back as a typed error.
 */
export interface NvidiaAgentAdapterOptions {
  /** How long place/preempt/terminate wait for every agent's acknowledgement. */
  readonly ackTimeoutMs?: number;
}

const HANDLE_PREFIX = 'agent:';

export class NvidiaAgentAdapter implements ProviderAdapter {
  readonly kind = 'nvidia-agent' as const;

  constructor(
    private readonly queue: AgentOrderQueue,
    private readonly options: NvidiaAgentAdapterOptions = {},
  ) {}

  async place(order: PlaceOrder): Promise<{ handle: string }> {
    if (order.nodes.length === 0) throw AdapterError.permanent('the order grants no nodes');
    for (const node of order.nodes) {
      if (!(await this.queue.isRegistered(node.externalId))) {
        throw AdapterError.permanent(`no agent has registered node ${node.externalId}`);
      }
    }
    const queued = await Promise.all(
      order.nodes.map((node) =>
        this.queue.enqueue(node.externalId, {
          type: 'place',
          leaseId: order.leaseId,
          place: { ...order, nodes: [node] },
        }),
      ),
    );
    await this.awaitAcks(
      queued.map((q, i) => ({ orderId: q.id, node: order.nodes[i]!.externalId })),
      'place',
    );
    return { handle: `${HANDLE_PREFIX}${order.nodes.map((node) => node.externalId).join(',')}` };
  }

  async preempt(order: StopOrder): Promise<void> {
    await this.stop(order, 'preempt');
  }

  async terminate(order: StopOrder): Promise<void> {
    await this.stop(order, 'terminate');
  }

  async status(leaseId: string, handle: string, context: StatusContext = {}): Promise<WorkloadStatus> {
    const nodes = nodesOf(handle);
    return aggregate(nodes, await this.queue.statuses(leaseId), context);
  }

  private async stop(order: StopOrder, type: 'preempt' | 'terminate'): Promise<void> {
    const nodes = nodesOf(order.handle);
    const reports = await this.queue.statuses(order.leaseId);
    const running = nodes.filter((node) => !isFinal(reports.get(node)));
    const queued = await Promise.all(
      running.map((node) =>
        this.queue.enqueue(node, { type, leaseId: order.leaseId, graceSeconds: order.graceSeconds }),
      ),
    );
    await this.awaitAcks(
      queued.map((q, i) => ({ orderId: q.id, node: running[i]! })),
      type,
    );
  }

  private async awaitAcks(orders: Array<{ orderId: string; node: string }>, what: string): Promise<void> {
    const timeoutMs = this.options.ackTimeoutMs ?? 30_000;
    const acks = await Promise.all(orders.map(({ orderId }) => this.queue.awaitAck(orderId, timeoutMs)));
    acks.forEach((ack: AgentAck | undefined, i) => {
      const node = orders[i]!.node;
      if (!ack)
        throw AdapterError.retryable(`the agent on ${node} did not acknowledge the ${what} order in ${timeoutMs} ms`);
      if (!ack.ok)
        throw new AdapterError(ack.error.kind, `the agent on ${node} refused the ${what} order: ${ack.error.message}`);
    });
  }
}

function nodesOf(handle: string): string[] {
  if (!handle.startsWith(HANDLE_PREFIX)) throw AdapterError.permanent(`${handle} is not an nvidia-agent handle`);
  return handle.slice(HANDLE_PREFIX.length).split(',');
}

function isFinal(report: StatusReport | undefined): boolean {
  return report !== undefined && report.state !== 'running';
}

/**
 * One lease state from its nodes' reports: any failure fails it; all must complete to complete
 * it. A node whose agent reports the workload failed without an exit code has lost it (its state
 * file is gone): the platform's failure, or, after the market's own stop, simply stopped.
 */
function aggregate(
  nodes: string[],
  reports: ReadonlyMap<string, StatusReport>,
  context: StatusContext,
): WorkloadStatus {
  const all = nodes.map((node) => ({ node, report: reports.get(node) }));
  const lost = (report: StatusReport | undefined) => report?.state === 'failed' && report.exitCode === undefined;
  const failed = all.find(({ report }) => report?.state === 'failed' && !(context.stopRequested && lost(report)));
  if (failed) {
    const { exitCode, message } = failed.report!;
    return {
      state: 'failed',
      ...(exitCode !== undefined ? { exitCode } : {}),
      cause: exitCode === undefined ? 'platform' : 'workload',
      message: `${failed.node}: ${message ?? 'failed'}`,
    };
  }
  const gone = all.find(({ report }) => lost(report));
  if (gone)
    return { state: 'stopped', message: `${gone.node}: ${gone.report!.message ?? 'gone'} (after the market's stop)` };
  const stopped = all.find(({ report }) => report?.state === 'stopped');
  if (stopped)
    return {
      state: 'stopped',
      exitCode: stopped.report!.exitCode,
      message: `${stopped.node}: ${stopped.report!.message ?? 'stopped'}`,
    };
  if (all.every(({ report }) => report?.state === 'completed')) return { state: 'completed', exitCode: 0 };
  const silent = all.filter(({ report }) => !report).map(({ node }) => node);
  if (silent.length > 0) return { state: 'pending', message: `waiting for the first report from ${silent.join(', ')}` };
  // A service replica is reached at the endpoint its first node reported (a gang's other nodes
  // serve through it); none while a stop is under way, so no new request is sent there.
  const served = all.find(({ report }) => report?.endpoint)?.report;
  if (served?.endpoint && !context.stopRequested)
    return { state: 'running', endpoint: served.endpoint, ...(served.serving ? { serving: served.serving } : {}) };
  return { state: 'running' };
}
