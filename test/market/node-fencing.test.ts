import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentOrder } from '../../src/modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

/**
 * Node health through the real path on PostgreSQL: the test speaks the agent protocol over HTTP
 * (heartbeats, order polls, acknowledgements, status reports) and the service's own fencing
 * sweep runs on its timer. HEARTBEAT_UNREACHABLE_SECONDS is 4 here, so a node is fenced within
 * about 5.5 s of its last heartbeat; every wait is on a condition.
 */
describe('node health and fencing', () => {
  let t: TestApp;
  let agents: { id: string; apiKey: string };
  let tenant: { id: string; apiKey: string };
  let simulated: { id: string; apiKey: string };
  let period = 0;
  const round = () =>
    t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2036, 0, 1) + 60_000 * period++) });
  const q = async (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const leaseOf = async (bidId: string) =>
    (await q(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`, [bidId]))[0];
  const heartbeat = (body: object) => t.http().post('/v1/agent/heartbeat').set(auth(agents.apiKey)).send(body);
  const nodeView = async (externalId: string) =>
    (await t.http().get('/v1/nodes').set(auth(agents.apiKey))).body.nodes.find(
      (n: { externalId: string }) => n.externalId === externalId,
    );
  const freeGpus = async (region: string) =>
    (await t.http().get('/v1/market/prices').set(auth(tenant.apiKey))).body.pools.find(
      (p: { region: string }) => p.region === region,
    ).freeGpus as number;
  const bid = async (region: string, overrides: Record<string, unknown> = {}) => {
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ regions: [region], ...overrides }));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body.id as string;
  };

  /** Acting as the node's agent: takes its queued orders and acknowledges each as done. */
  async function takeOrders(externalId: string, type: AgentOrder['type'], leaseId: string): Promise<void> {
    await until(`the ${type} order for ${externalId}`, async () => {
      const response = await t.http().get(`/v1/agent/orders?node=${externalId}&waitSeconds=0`).set(auth(agents.apiKey));
      expect(response.status).toBe(200);
      const orders = (response.body.orders as AgentOrder[]).filter((o) => o.type === type && o.leaseId === leaseId);
      for (const order of orders) {
        const ack = await t
          .http()
          .post(`/v1/agent/orders/${order.id}/ack`)
          .set(auth(agents.apiKey))
          .send({ ok: true, handle: `${externalId}/${leaseId}`, gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7] });
        expect(ack.status).toBe(204);
      }
      return orders.length > 0;
    });
  }

  beforeAll(async () => {
    t = await createTestApp({ HEARTBEAT_UNREACHABLE_SECONDS: '4', MIN_HOLD_SECONDS: '1' });
    agents = await createProvider(t, 'agents', 'nvidia-agent');
    tenant = await createTenant(t);
    await putNodes(t, agents.apiKey, [
      node('fence-1', { region: 'fence' }),
      node('ecc-1', { region: 'ecc' }),
      node('quiet-1', { region: 'quiet' }),
    ]);
    simulated = await createProvider(t, 'simulated-fleet');
    await putNodes(t, simulated.apiKey, [node('sim-1', { region: 'sim' })]);
  });
  afterAll(async () => t?.close());

  it('answers a heartbeat with the intervals, and refuses unknown nodes and GPU indices the node does not have', async () => {
    const ok = await heartbeat({ node: 'quiet-1' });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ heartbeatIntervalSeconds: 1, unreachableAfterSeconds: 4 });

    const unknown = await heartbeat({ node: 'nobody' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('node_not_found');

    const bad: Array<[object, string]> = [
      [
        {
          node: 'quiet-1',
          gpus: [
            { index: 0, available: true },
            { index: 8, available: false, reason: 'ecc' },
          ],
        },
        'gpus[1].index',
      ],
      [
        {
          node: 'quiet-1',
          gpus: [
            { index: 2, available: true },
            { index: 2, available: false },
          ],
        },
        'gpus[1].index',
      ],
      [{ node: 'quiet-1', gpus: [{ index: 0, available: false, reason: 'melted' }] }, 'gpus.0.reason'],
      [{ node: 'quiet-1', gpus: [{ index: 0 }] }, 'gpus.0.available'],
      [{ gpus: [] }, 'node'],
    ];
    for (const [body, field] of bad) {
      const response = await heartbeat(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const fields = response.body.details.map((d: { field: string }) => d.field);
      expect(
        fields.some(
          (f: string) => f === field || f.replace(/\[(\d+)\]/g, '.$1') === field.replace(/\[(\d+)\]/g, '.$1'),
        ),
        `${JSON.stringify(body)}: ${fields}`,
      ).toBe(true);
    }
    // A tenant key is not an agent.
    expect((await t.http().post('/v1/agent/heartbeat').set(auth(tenant.apiKey)).send({ node: 'quiet-1' })).status).toBe(
      403,
    );
  });

  it('shows never_seen for a node no agent reported from, and ok with the last heartbeat once one does', async () => {
    expect(await nodeView('ecc-1')).toMatchObject({ health: 'never_seen', lastHeartbeatAt: null, unavailableGpus: [] });
    const before = Date.now();
    // An order poll counts as a heartbeat, for agents that do not send them.
    expect((await t.http().get('/v1/agent/orders?node=ecc-1&waitSeconds=0').set(auth(agents.apiKey))).status).toBe(200);
    const view = await nodeView('ecc-1');
    expect(view.health).toBe('ok');
    expect(new Date(view.lastHeartbeatAt).getTime()).toBeGreaterThanOrEqual(before - 1_000);
  });

  it('sells one GPU fewer on a node whose agent reports a GPU unavailable, and all again once it recovers', async () => {
    const gpus = (unavailable: number | null) =>
      Array.from({ length: 8 }, (_, index) =>
        index === unavailable
          ? { index, uuid: `GPU-${index}`, available: false, reason: 'ecc' }
          : { index, uuid: `GPU-${index}`, available: true },
      );
    expect((await heartbeat({ node: 'ecc-1', gpus: gpus(3) })).status).toBe(200);
    // A heartbeat without gpus leaves the availability as it was.
    expect((await heartbeat({ node: 'ecc-1' })).status).toBe(200);
    expect((await nodeView('ecc-1')).unavailableGpus).toEqual([{ index: 3, reason: 'ecc' }]);
    expect(await freeGpus('ecc')).toBe(7);

    const whole = await bid('ecc', { gpus: 8 });
    await heartbeat({ node: 'ecc-1' });
    expect((await round())?.placements).toBe(0);
    expect(await leaseOf(whole)).toBeUndefined();
    await q(`UPDATE bids SET status = 'cancelled' WHERE id = $1`, [whole]);

    const seven = await bid('ecc', { gpus: 7 });
    await heartbeat({ node: 'ecc-1' });
    expect((await round())?.placements).toBe(1);
    const sevenLease = await leaseOf(seven);
    expect(sevenLease.state).toBe('allocated');
    await takeOrders('ecc-1', 'place', sevenLease.id);
    expect((await t.http().delete(`/v1/bids/${seven}`).set(auth(tenant.apiKey))).status).toBeLessThan(300);
    await takeOrders('ecc-1', 'terminate', sevenLease.id);

    expect((await heartbeat({ node: 'ecc-1', gpus: gpus(null) })).status).toBe(200);
    expect((await nodeView('ecc-1')).unavailableGpus).toEqual([]);
    expect(await freeGpus('ecc')).toBe(8);
  });

  it('fences a node whose agent goes silent: its lease fails as node_unreachable at the last heartbeat, its bid reopens, and the node takes work again once heard from', async () => {
    // The agent heartbeats while the lease is placed and starts.
    let beating = true;
    const beats = (async () => {
      while (beating) {
        await heartbeat({ node: 'fence-1' });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const bidId = await bid('fence', { runtimeSeconds: 3600 });
    expect((await round())?.placements).toBe(1);
    const lease = await leaseOf(bidId);
    await takeOrders('fence-1', 'place', lease.id);
    await until(
      'the place order done',
      async () =>
        (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'place'`, [lease.id]))[0].state === 'done',
    );
    const running = await t
      .http()
      .post(`/v1/leases/${lease.id}/status`)
      .set(auth(agents.apiKey))
      .send({ state: 'running', node: 'fence-1' });
    expect(running.body.state).toBe('running');
    await new Promise((r) => setTimeout(r, 1_200)); // one second of run time to bill
    expect((await nodeView('fence-1')).health).toBe('ok');

    // The agent dies.
    beating = false;
    await beats;
    const [{ last_heartbeat_at: lastHeartbeat }] = await q(
      `SELECT last_heartbeat_at FROM nodes WHERE external_id = 'fence-1'`,
    );
    const silentSince = Date.now();
    // A round while the node is silent, past a whole second of run time after its last heartbeat
    // but not yet fenced, charges nothing past the last heartbeat.
    await new Promise((r) => setTimeout(r, 1_500));
    await round();
    expect((await leaseOf(bidId)).state).toBe('running');

    await until('the node to be unreachable', async () => (await nodeView('fence-1')).health === 'unreachable', 60_000);
    await until('the lease to fail', async () => (await leaseOf(bidId)).state === 'failed', 60_000);
    expect(Date.now() - silentSince).toBeLessThan(60_000);
    const failed = await leaseOf(bidId);
    expect(failed.end_reason).toMatch(/^node_unreachable: no heartbeat from node fence-1 since /);
    expect(failed.ended_at.getTime()).toBe(lastHeartbeat.getTime());
    // Billed up to the last heartbeat and not a second more.
    const [billed] = await q(
      `SELECT coalesce(sum(seconds), 0)::int AS seconds, max(period_end) AS until FROM ledger_entries WHERE lease_id = $1`,
      [lease.id],
    );
    expect(billed.seconds).toBe(Math.floor((lastHeartbeat.getTime() - failed.started_at.getTime()) / 1000));
    expect(billed.seconds).toBeGreaterThan(0);
    expect(billed.until.getTime()).toBeLessThanOrEqual(lastHeartbeat.getTime());
    // The bid is open again with its run time, as for any failure of the platform.
    const [bidRow] = await q(`SELECT status, remaining_seconds FROM bids WHERE id = $1`, [bidId]);
    expect(bidRow.status).toBe('open');
    expect(3600 - bidRow.remaining_seconds - billed.seconds).toBeGreaterThanOrEqual(0);
    expect(3600 - bidRow.remaining_seconds - billed.seconds).toBeLessThanOrEqual(1);
    const [event] = await q(`SELECT data FROM market_events WHERE type = 'lease.failed' AND subject_id = $1`, [
      lease.id,
    ]);
    expect(event.data).toMatchObject({
      reason: failed.end_reason,
      bidReopened: true,
      bidStatus: 'open',
      endedAt: lastHeartbeat.toISOString(),
    });
    const view = await t.http().get(`/v1/leases/${lease.id}`).set(auth(tenant.apiKey));
    expect(view.body).toMatchObject({ state: 'failed', endReason: failed.end_reason });
    // A terminate is queued for the agent, so a node that comes back stops what it still runs.
    expect(await q(`SELECT type FROM orders WHERE lease_id = $1 AND type = 'terminate'`, [lease.id])).toHaveLength(1);

    // The unreachable node gets nothing new, and the market shows none of its GPUs free.
    expect(await freeGpus('fence')).toBe(0);
    expect((await round())?.placements).toBe(0);
    expect((await leaseOf(bidId)).id).toBe(lease.id);

    // The agent comes back: the node is ok again, takes the terminate of the old lease, and the bid is placed on it.
    expect((await heartbeat({ node: 'fence-1' })).status).toBe(200);
    expect((await nodeView('fence-1')).health).toBe('ok');
    expect(await freeGpus('fence')).toBe(8);
    await takeOrders('fence-1', 'terminate', lease.id);
    await heartbeat({ node: 'fence-1' });
    expect((await round())?.placements).toBe(1);
    const again = await leaseOf(bidId);
    expect(again.id).not.toBe(lease.id);
    expect(again.state).toBe('allocated');
    await takeOrders('fence-1', 'place', again.id);
    // Done with the node: the tenant cancels, and the agent takes the stop.
    expect((await t.http().delete(`/v1/bids/${bidId}`).set(auth(tenant.apiKey))).status).toBeLessThan(300);
    await takeOrders('fence-1', 'terminate', again.id);
  }, 90_000);

  it('fences a silent node without leases too, but never a node no agent ever reported from', async () => {
    // quiet-1 heartbeated once in the first test and has been silent since; sim-1, of a fleet
    // without an agent, has existed as long and was never heard from.
    await until('quiet-1 fenced', async () => (await nodeView('quiet-1')).health === 'unreachable', 10_000);
    const [quiet] = await q(`SELECT unreachable_since FROM nodes WHERE external_id = 'quiet-1'`);
    expect(quiet.unreachable_since).not.toBeNull();
    const view = (await t.http().get('/v1/nodes').set(auth(simulated.apiKey))).body.nodes[0];
    expect(view).toMatchObject({ externalId: 'sim-1', health: 'never_seen', lastHeartbeatAt: null });
    const [sim] = await q(`SELECT unreachable_since FROM nodes WHERE external_id = 'sim-1'`);
    expect(sim.unreachable_since).toBeNull();
  });
});
