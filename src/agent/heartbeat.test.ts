import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_NVIDIA_SMI, NVIDIA_SMI_FIXTURES } from '../../test/adapters/support/agent-fleet.js';
import type { AgentAck, AgentOrder } from '../modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import type { GpuReading } from './gpu-health.js';
import { MarketClient } from './market-client.js';
import { NodeAgent } from './node-agent.js';
import { gpuHealthReader } from './nvidia-smi.js';

// The agent's side of POST /v1/agent/heartbeat (docs/adapters.md) against a small market stub
// that answers the way the service does, including an older market without the route.
type Mode = 'ok' | 'route-missing' | 'unknown-node';

class MarketStub {
  readonly heartbeats: Array<{
    node: string;
    gpus?: Array<{ index: number; uuid: string; available: boolean; reason?: string }>;
  }> = [];
  readonly acks = new Map<string, AgentAck>();
  registrations = 0;
  polls = 0;
  mode: Mode = 'ok';
  askInterval = 15;
  private orders: AgentOrder[] = [];
  private readonly server = createServer((request, response) => void this.route(request, response));
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  send(order: AgentOrder): void {
    this.orders.push(order);
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://stub');
    const body = await readBody(request);
    const reply = (status: number, payload: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    if (request.method === 'PUT' && url.pathname === '/v1/nodes') {
      this.registrations += 1;
      return reply(200, {});
    }
    if (request.method === 'GET' && url.pathname === '/v1/agent/leases') return reply(200, { leases: [] });
    if (request.method === 'GET' && url.pathname === '/v1/agent/orders') {
      this.polls += 1;
      if (this.orders.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      return reply(200, { orders: this.orders.splice(0) });
    }
    const ack = /^\/v1\/agent\/orders\/([^/]+)\/ack$/.exec(url.pathname);
    if (request.method === 'POST' && ack) {
      this.acks.set(ack[1]!, JSON.parse(body) as AgentAck);
      return reply(200, {});
    }
    if (request.method === 'POST' && url.pathname === '/v1/agent/heartbeat') {
      if (this.mode === 'route-missing') return reply(404, { error: 'route_not_found', message: 'no such route' });
      this.heartbeats.push(JSON.parse(body) as MarketStub['heartbeats'][number]);
      if (this.mode === 'unknown-node') return reply(404, { error: 'node_not_found', message: 'no node gpu-hb' });
      return reply(200, { heartbeatIntervalSeconds: this.askInterval, unreachableAfterSeconds: 45 });
    }
    if (request.method === 'POST' && url.pathname.startsWith('/v1/leases/')) return reply(200, {});
    return reply(404, { error: 'route_not_found', message: 'no such route' });
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function until<T>(check: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  for (let waited = 0; waited < ms; waited += 20) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const uuids = Array.from({ length: 8 }, (_, index) => `GPU-0000000${index}-aaaa-4bbb-8ccc-dddddddddddd`);
const healthy = (): GpuReading[] =>
  uuids.map((uuid, index) => ({ index, uuid, migEnabled: false, uncorrectableEcc: 0, pendingRetirement: false }));

let stub: MarketStub;
let agent: NodeAgent;
const lines: string[] = [];

async function startAgent(
  readGpus: () => Promise<GpuReading[]>,
  mode: Mode = 'ok',
  heartbeatSeconds = 0.2,
  askInterval = 15,
): Promise<void> {
  stub = new MarketStub();
  stub.mode = mode;
  stub.askInterval = askInterval;
  await stub.start();
  agent = new NodeAgent({
    client: new MarketClient(stub.url, 'hb-key'),
    registration: {
      externalId: 'gpu-hb',
      gpuModel: 'H100-SXM-80GB',
      gpus: 8,
      region: 'r',
      block: 'b',
      reservePrice: '1',
    },
    gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7],
    gpus: uuids.map((uuid, index) => ({ index, uuid })),
    nvlinkIslands: [[0, 1, 2, 3, 4, 5, 6, 7]],
    stateDir: mkdtempSync(join(tmpdir(), 'gpumarket-hb-')),
    heartbeatSeconds,
    gpuScanSeconds: 0.1,
    readGpus,
    pollWaitSeconds: 1,
    monitorIntervalMs: 50,
    log: (line) => lines.push(line),
  });
  agent.start();
  await agent.ready;
}

afterEach(async () => {
  await agent?.stop();
  await stub?.stop();
});

function placeOrder(id: string, gpus: number): AgentOrder {
  return {
    id,
    type: 'place',
    leaseId: `lease-${id}`,
    place: {
      leaseId: `lease-${id}`,
      bidId: `bid-${id}`,
      tenantId: 't',
      gpuModel: 'H100-SXM-80GB',
      nodes: [{ nodeId: 'n', externalId: 'gpu-hb', gpus }],
      workload: { command: ['sleep', '30'] },
      runtimeSeconds: 30,
    },
  };
}

describe('agent heartbeats and GPU health', () => {
  it('heartbeats on its interval with every GPU, and reports a GPU that went bad at once; a bad GPU is never chosen', async () => {
    let readings = healthy();
    await startAgent(async () => readings);
    await until(() => stub.heartbeats.length >= 2, 'two heartbeats');
    expect(stub.heartbeats[0]).toEqual({
      node: 'gpu-hb',
      gpus: uuids.map((uuid, index) => ({ index, uuid, available: true })),
    });

    readings = healthy().map((gpu) =>
      gpu.index === 3 ? { ...gpu, migEnabled: true } : gpu.index === 6 ? { ...gpu, uncorrectableEcc: 1 } : gpu,
    );
    const reported = await until(
      () => stub.heartbeats.find((beat) => beat.gpus?.some((gpu) => !gpu.available)),
      'a heartbeat with unavailable GPUs',
    );
    expect(reported.gpus!.filter((gpu) => !gpu.available)).toEqual([
      { index: 3, uuid: uuids[3], available: false, reason: 'mig' },
      { index: 6, uuid: uuids[6], available: false, reason: 'ecc' },
    ]);

    stub.send(placeOrder('too-many', 7));
    expect(await until(() => stub.acks.get('too-many'), 'the refusal')).toEqual({
      ok: false,
      error: { kind: 'retryable', message: '6 of 8 GPUs are free; 7 were granted' },
    });
    stub.send(placeOrder('fits', 6));
    expect(await until(() => stub.acks.get('fits'), 'the ack')).toMatchObject({
      ok: true,
      gpuIndices: [0, 1, 2, 4, 5, 7],
    });
    await agent.stop();
    for (const lease of agent.snapshot()) process.kill(-lease.pid, 'SIGKILL');
  });

  it('reports a GPU that fell off the bus as vanished, and keeps the last reading when nvidia-smi itself fails', async () => {
    let readings: GpuReading[] | Error = healthy();
    await startAgent(async () => {
      if (readings instanceof Error) throw readings;
      return readings;
    });
    readings = healthy().filter((gpu) => gpu.index !== 5);
    await until(() => agent.gpuHealth().some((gpu) => gpu.reason === 'vanished'), 'the vanished GPU');
    readings = new Error('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver');
    await until(() => lines.some((line) => line.includes('keeping the last one')), 'the failed reading');
    expect(agent.gpuHealth().filter((gpu) => !gpu.available)).toEqual([
      { index: 5, uuid: uuids[5], available: false, reason: 'vanished' },
    ]);
  });

  it('beats as often as the market asks when that is more often than configured', async () => {
    await startAgent(async () => healthy(), 'ok', 60, 0.05);
    await until(() => stub.heartbeats.length >= 4, 'beats at the asked interval', 3_000);
  });

  it('falls back to polling only when the market has no heartbeat route', async () => {
    await startAgent(async () => healthy(), 'route-missing');
    await until(() => lines.some((line) => line.includes('no heartbeat endpoint')), 'the fallback');
    const polls = stub.polls;
    await until(() => stub.polls >= polls + 3, 'more polls');
    expect(stub.heartbeats).toEqual([]);
    expect(lines.filter((line) => line.includes('heartbeat')).length).toBe(1);
  });

  it('registers again when the market answers that it does not know the node', async () => {
    await startAgent(async () => healthy(), 'unknown-node');
    await until(() => stub.registrations >= 2, 'a second registration');
    expect(lines.some((line) => line.includes('heartbeat failed'))).toBe(true);
  });
});

describe('reading GPU health with nvidia-smi', () => {
  it('reads the fixture machine through the fake nvidia-smi', async () => {
    process.env.FAKE_NVIDIA_SMI_DIR = NVIDIA_SMI_FIXTURES;
    process.env.FAKE_NVIDIA_SMI_MACHINE = 'h100-8x';
    process.env.FAKE_NVIDIA_SMI_HEALTH = 'h100-8x-degraded';
    try {
      const readings = await gpuHealthReader(FAKE_NVIDIA_SMI)();
      expect(readings.map((gpu) => gpu.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(readings[3]).toMatchObject({ migEnabled: true });
    } finally {
      delete process.env.FAKE_NVIDIA_SMI_HEALTH;
    }
  });

  it('drops a field the driver does not know and asks again without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpumarket-old-smi-'));
    const script = join(dir, 'nvidia-smi');
    writeFileSync(
      script,
      `#!/bin/sh\necho "$*" >> ${dir}/calls\ncase "$*" in *remapped_rows*) echo 'Field "remapped_rows.pending" is not a valid field to query.' ; exit 2 ;; esac\n` +
        `printf 'index, uuid, mig.mode.current, ecc.errors.uncorrected.volatile.total, ecc.errors.uncorrected.aggregate.total, retired_pages.pending\\n0, GPU-x, [N/A], 0, 0, Yes\\n'\n`,
    );
    chmodSync(script, 0o755);
    const read = gpuHealthReader(script);
    expect(await read()).toEqual([
      { index: 0, uuid: 'GPU-x', migEnabled: false, uncorrectableEcc: 0, pendingRetirement: true },
    ]);
    await read();
    const { readFileSync } = await import('node:fs');
    // Once dropped, it stays dropped: the second reading asks once.
    expect(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n')).toHaveLength(3);
  });
});
