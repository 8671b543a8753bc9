import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeAgent } from '../../src/agent/node-agent.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { probeCommand, readProbeLog } from '../adapters/support/probe-log.js';
import { startFakeGpuAgent, stopFakeGpuAgent } from '../support/fake-gpu-agent.js';
import { auth, bidBody, createProvider, createTenant } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { past, until } from '../support/until.js';

// The whole path on real PostgreSQL: the real app on a port, the real `gpumarket agent` runtime
// (nvidia-smi output from fixtures) registering its node, a round placing a bid on it, the order
// pulled through /v1/agent/orders, the workload a real child process on the granted GPUs, and
// its reports moving the lease. No adapter or queue is replaced.
const NODE = 'gpu-e2e-1';
const logs = mkdtempSync(join(tmpdir(), 'gpumarket-agent-e2e-'));

describe('an nvidia-agent provider in the running market', () => {
  let t: TestApp;
  let agent: NodeAgent;
  let rounds: RoundService;
  let period = 0;
  const round = () => rounds.runRound({ periodStart: new Date(Date.UTC(2031, 0, 1) + 60_000 * period++) });
  const leaseOf = async (bidId: string) =>
    (await t.dataSource.query(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`, [bidId]))[0];
  const bid = async (key: string, overrides: Record<string, unknown>) => {
    const response = await t.http().post('/v1/bids').set(auth(key)).send(bidBody(overrides));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id as string;
  };
  const probe = (name: string, behaviour: Parameters<typeof probeCommand>[1]) => ({
    command: probeCommand(join(logs, `${name}.jsonl`), behaviour),
  });

  beforeAll(async () => {
    t = await createTestApp({ MIN_HOLD_SECONDS: '1', PREEMPTION_NOTICE_SECONDS: '2' });
    rounds = t.app.get(RoundService);
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const provider = await createProvider(t, 'agent-fleet', 'nvidia-agent');
    agent = await startFakeGpuAgent({
      marketUrl: `http://127.0.0.1:${port}`,
      key: provider.apiKey,
      externalId: NODE,
      region: 'eu-west',
      reservePrice: '1.80',
      monitorIntervalMs: 100,
    });
  });

  afterAll(async () => {
    await stopFakeGpuAgent(agent);
    await t?.close();
  });

  it('registers the node the agent discovered through PUT /v1/nodes', async () => {
    const [node] = await t.dataSource.query(
      `SELECT gpu_model, gpus, region, block, reserve_price::text FROM nodes WHERE external_id = $1`,
      [NODE],
    );
    expect(node).toEqual({
      gpu_model: 'H100-SXM-80GB',
      gpus: 8,
      region: 'eu-west',
      block: 'ib-leaf-1',
      reserve_price: '1.8000',
    });
  });

  it('runs a winning bid as a child process on the granted GPUs and completes the lease when it exits', async () => {
    const tenant = await createTenant(t, 'trainer');
    const bidId = await bid(tenant.apiKey, {
      gpus: 2,
      runtimeSeconds: 60,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }],
      workload: probe('short', { kind: 'exit', code: 0, afterSeconds: 1.5 }),
    });
    expect((await round())?.placements).toBe(1);
    const lease = await leaseOf(bidId);
    expect(lease.state).toBe('allocated');

    await until('the agent to start the workload', () => readProbeLog(join(logs, 'short.jsonl')).starts === 1);
    const seen = readProbeLog(join(logs, 'short.jsonl'));
    expect(seen.placements).toHaveLength(1);
    expect(seen.placements[0]!.externalId).toBe(NODE);
    expect(seen.placements[0]!.gpuIndices).toHaveLength(2);
    expect(agent.snapshot().find((l) => l.leaseId === lease.id)?.gpuIndices).toEqual(seen.placements[0]!.gpuIndices);

    await until('the lease to complete', async () => (await leaseOf(bidId)).state === 'completed');
    const ended = await leaseOf(bidId);
    expect(ended).toMatchObject({ state: 'completed', end_reason: 'workload_ended', exit_code: 0 });
    expect(ended.started_at).not.toBeNull();
    const events = await t.dataSource.query(
      `SELECT type FROM market_events WHERE subject_id = $1 ORDER BY created_at`,
      [lease.id],
    );
    expect(events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['lease.running', 'lease.completed']),
    );
    const [order] = await t.dataSource.query(
      `SELECT state, handle FROM orders WHERE lease_id = $1 AND type = 'place'`,
      [lease.id],
    );
    expect(order).toEqual({ state: 'done', handle: `agent:${NODE}` });
    const bidRow = (await t.http().get(`/v1/bids/${bidId}`).set(auth(tenant.apiKey))).body;
    expect(bidRow.status).toBe('completed');
  });

  it('preempts a running lease for a higher bid with SIGTERM, then places the higher bid once the notice ends', async () => {
    const low = await createTenant(t, 'low');
    const high = await createTenant(t, 'high');
    const lowBid = await bid(low.apiKey, {
      gpus: 8,
      preemptible: true,
      runtimeSeconds: 600,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.00' }],
      workload: probe('victim', { kind: 'run', seconds: 300 }),
    });
    await round();
    const victim = await leaseOf(lowBid);
    await until('the preemptible lease to run', async () => (await leaseOf(lowBid)).state === 'running');
    await past((await leaseOf(lowBid)).protected_until);

    const highBid = await bid(high.apiKey, {
      gpus: 8,
      runtimeSeconds: 60,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '5.00' }],
      workload: probe('winner', { kind: 'exit', code: 0, afterSeconds: 1 }),
    });
    expect((await round())?.preemptions).toBe(1);
    expect((await leaseOf(lowBid)).state).toBe('preempting');
    await until('the workload to get SIGTERM and stop', () => {
      const seen = readProbeLog(join(logs, 'victim.jsonl'));
      return seen.signals.includes('SIGTERM') && seen.alive === false;
    });
    // The probe logs its own death before the agent's monitor reaps it: wait for the agent's view.
    await until(
      'the agent to record the workload as stopped',
      () => agent.snapshot().find((l) => l.leaseId === victim.id)?.ended !== undefined,
    );
    expect(agent.snapshot().find((l) => l.leaseId === victim.id)?.ended?.state).toBe('stopped');
    // The agent's "stopped" ends the lease there: billed to the stop, not to the notice's end (docs/finance.md).
    await until("the agent's report to end the lease", async () => (await leaseOf(lowBid)).state !== 'preempting');
    const noticed = await leaseOf(lowBid);
    expect(noticed).toMatchObject({ state: 'preempted', end_reason: 'stopped_on_notice' });
    // The higher bid's workload is placed only once the notice ends (checked by the order's due
    // time, since on a slow machine the notice may already be over by now).
    const [place] = await t.dataSource.query(
      `SELECT o.not_before FROM orders o JOIN leases l ON l.id = o.lease_id WHERE l.bid_id = $1 AND o.type = 'place'`,
      [highBid],
    );
    expect(new Date(place.not_before).getTime()).toBeGreaterThanOrEqual(new Date(noticed.notice_ends_at).getTime());
    if (Date.now() < new Date(noticed.notice_ends_at).getTime())
      expect(readProbeLog(join(logs, 'winner.jsonl')).starts).toBe(0);

    await past(noticed.notice_ends_at);
    await round();
    // The victim lease by its id: the higher bid may already have finished and the reopened low
    // bid won a new lease in this very round.
    const [ended] = await t.dataSource.query(`SELECT state FROM leases WHERE id = $1`, [victim.id]);
    expect(ended.state).toBe('preempted');
    await until('the higher bid to run and complete', async () => (await leaseOf(highBid)).state === 'completed');
    const winner = readProbeLog(join(logs, 'winner.jsonl'));
    expect(winner.starts).toBe(1);
    expect(winner.placements[0]!.gpuIndices.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
