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

  /**
   * A 404 for the route itself (a market older than the route), not for a thing the route looked
   * up: the market's route-not-found code, or a body that is not the market's error format.
   */
  get routeMissing(): boolean {
    if (this.status !== 404) return false;
    try {
      const error = (JSON.parse(this.body) as { error?: unknown }).error;
      return error === 'route_not_found' || typeof error !== 'string' || /^no route\b/i.test(error);
    } catch {
      return true;
    }
  }
}

/** One GPU in a heartbeat (docs/adapters.md, "Heartbeats and GPU health"). */
export interface HeartbeatGpu {
  readonly index: number;
  readonly uuid: string;
  readonly available: boolean;
  readonly reason?: string;
}

export interface HeartbeatAnswer {
  readonly heartbeatIntervalSeconds?: number;
  readonly unreachableAfterSeconds?: number;
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

  /** POST /v1/agent/heartbeat; `gpus` undefined leaves the market's view of the GPUs unchanged. */
  async heartbeat(
    node: string,
    gpus: readonly HeartbeatGpu[] | undefined,
    signal?: AbortSignal,
  ): Promise<HeartbeatAnswer> {
    return this.request<HeartbeatAnswer>(
      'POST',
      '/v1/agent/heartbeat',
      { node, ...(gpus ? { gpus } : {}) },
      { signal },
    );
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
