import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryAgentOrderQueue } from '../../../src/modules/dispatch/adapters/nvidia-agent/in-memory-agent-order-queue.js';
import type {
  AgentAck,
  NodeRegistration,
  StatusReport,
} from '../../../src/modules/dispatch/adapters/nvidia-agent/agent-protocol.js';

/**
 * The market's agent endpoints (docs/adapters.md), served over the in-memory order queue, for
 * running the real agent runtime in tests. It can be stopped and started again on the same port
 * with the same queue, which is what a market restart looks like to an agent.
 */
export class AgentMarketServer {
  readonly registrations: NodeRegistration[] = [];
  readonly reports: Array<{ leaseId: string } & StatusReport> = [];
  private server?: Server;
  private port = 0;

  constructor(
    readonly queue: InMemoryAgentOrderQueue,
    private readonly key: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      this.route(request, response).catch((error: unknown) => send(response, 500, { error: String(error) }));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.headers.authorization !== `Bearer ${this.key}`) return send(response, 401, { error: 'bad key' });
    const url = new URL(request.url ?? '/', 'http://market');
    const path = url.pathname;
    if (request.method === 'PUT' && path === '/v1/nodes') {
      const body = (await readJson(request)) as { nodes: NodeRegistration[] };
      for (const node of body.nodes) {
        this.registrations.push(node);
        this.queue.registerNode(node.externalId);
      }
      return send(response, 200, { nodes: body.nodes });
    }
    if (request.method === 'GET' && path === '/v1/agent/orders') {
      const node = url.searchParams.get('node') ?? '';
      const waitSeconds = Math.min(Number(url.searchParams.get('waitSeconds') ?? '0'), 60);
      const closed = new AbortController();
      response.on('close', () => closed.abort());
      const orders = await this.queue.pull(node, waitSeconds * 1000, closed.signal);
      return send(response, 200, { orders });
    }
    const ack = /^\/v1\/agent\/orders\/([^/]+)\/ack$/.exec(path);
    if (request.method === 'POST' && ack) {
      await this.queue.acknowledge(decodeURIComponent(ack[1]!), (await readJson(request)) as AgentAck);
      return send(response, 200, {});
    }
    const status = /^\/v1\/leases\/([^/]+)\/status$/.exec(path);
    if (request.method === 'POST' && status) {
      const leaseId = decodeURIComponent(status[1]!);
      const report = (await readJson(request)) as StatusReport;
      this.reports.push({ leaseId, ...report });
      await this.queue.recordStatus(leaseId, report.node ?? '', report);
      return send(response, 200, {});
    }
    if (request.method === 'GET' && path === '/v1/agent/leases') {
      return send(response, 200, { leases: await this.queue.leasesOnNode(url.searchParams.get('node') ?? '') });
    }
    return send(response, 404, { error: `no route ${request.method} ${path}` });
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
