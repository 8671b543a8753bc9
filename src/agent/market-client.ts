import type {
  AgentAck,
  AgentLeasesResponse,
  AgentOrder,
  MarketLeaseView,
  NodeRegistration,
  PullOrdersResponse,
  StatusReport,
} from '../modules/dispatch/adapters/nvidia-agent/agent-protocol.js';

/** The agent's side of the agent <-> market protocol, over fetch with the provider's key. */
export class MarketHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly path: string,
  ) {
    super(`market answered ${status} to ${path}: ${body.slice(0, 500)}`);
    this.name = 'MarketHttpError';
  }
}

export class MarketClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly key: string,
    private readonly timeoutMs = 15_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  async registerNodes(nodes: NodeRegistration[]): Promise<void> {
    await this.request('PUT', '/v1/nodes', { nodes });
  }

  async pullOrders(node: string, waitSeconds: number, signal?: AbortSignal): Promise<AgentOrder[]> {
    const query = `node=${encodeURIComponent(node)}&waitSeconds=${waitSeconds}`;
    const body = await this.request<PullOrdersResponse>('GET', `/v1/agent/orders?${query}`, undefined, {
      signal,
      timeoutMs: (waitSeconds + 10) * 1000,
    });
    return body.orders;
  }

  async acknowledge(orderId: string, ack: AgentAck): Promise<void> {
    await this.request('POST', `/v1/agent/orders/${encodeURIComponent(orderId)}/ack`, ack);
  }

  async reportStatus(leaseId: string, report: StatusReport): Promise<void> {
    await this.request('POST', `/v1/leases/${encodeURIComponent(leaseId)}/status`, report);
  }

  async leasesOnNode(node: string): Promise<MarketLeaseView[]> {
    return (await this.request<AgentLeasesResponse>('GET', `/v1/agent/leases?node=${encodeURIComponent(node)}`)).leases;
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    });
    const text = await response.text();
    if (!response.ok) throw new MarketHttpError(response.status, text, path);
    return (text === '' ? {} : JSON.parse(text)) as T;
  }
}
