import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  PlaceOrder,
  StatusContext,
  WorkloadStatus,
} from '../../src/modules/dispatch/adapters/provider-adapter.js';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';
import { ScriptedFleet } from './support/scripted-fleet.js';

/**
 * A simulated fleet whose placements of chosen bids stay pending, with the platform's reason, as
 * a Slurm job pending on Resources or a Pod in ImagePullBackOff does.
 */
class PendingFleet extends ScriptedFleet {
  readonly pending = new Map<string, string>();
  private readonly leaseBids = new Map<string, string>();

  override async place(order: PlaceOrder): Promise<{ handle: string }> {
    this.leaseBids.set(order.leaseId, order.bidId);
    return super.place(order);
  }

  override async status(leaseId: string, handle: string, context?: StatusContext): Promise<WorkloadStatus> {
    const status = await super.status(leaseId, handle, context);
    const reason = this.pending.get(this.leaseBids.get(leaseId) ?? '');
    if (reason === undefined || status.state !== 'running') return status;
    return { state: 'pending', message: `waiting: ${reason}`, waitingReason: reason };
  }
}

/**
 * The start timeout on PostgreSQL through the real dispatch path: a placement whose workload
 * stays pending past PLACEMENT_START_TIMEOUT_SECONDS (5 s here) fails with start_timeout and the
 * platform's reason, is terminated on the platform, costs nothing, and its bid is placed again.
 */
describe('start timeout', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  let period = 0;
  const round = () =>
    t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2037, 0, 1) + 60_000 * period++) });
  const sync = () => t.app.get(LeaseSyncService).syncAll();
  const q = async (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const leaseOf = async (bidId: string) =>
    (await q(`SELECT * FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`, [bidId]))[0];
  const placeDone = async (leaseId: string) =>
    until(
      'the place order done',
      async () =>
        (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'place'`, [leaseId]))[0]?.state === 'done',
    );

  beforeAll(async () => {
    t = await createTestApp({ PLACEMENT_START_TIMEOUT_SECONDS: '5', MIN_HOLD_SECONDS: '1' });
    tenant = await createTenant(t);
  });
  afterAll(async () => t?.close());

  it("fails a placement still pending after the timeout with start_timeout and the platform's reason, terminates it, charges nothing and reopens the bid", async () => {
    const provider = await createProvider(t, 'pending-fleet');
    await putNodes(t, provider.apiKey, [node('pending-1', { region: 'pending' })]);
    const fleet = new PendingFleet([{ externalId: 'pending-1', gpus: 8 }]);
    t.app.get(AdapterRegistry).use(provider.id, fleet);
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ regions: ['pending'], runtimeSeconds: 600 }));
    const bidId = response.body.id as string;
    fleet.pending.set(bidId, 'Resources');

    expect((await round())?.placements).toBe(1);
    const lease = await leaseOf(bidId);
    await placeDone(lease.id);
    await sync();
    // Pending, before the timeout: the lease waits.
    expect((await leaseOf(bidId)).state).toBe('allocated');

    await until(
      'the start timeout',
      async () => {
        await sync();
        return (await leaseOf(bidId)).id === lease.id && (await leaseOf(bidId)).state === 'failed';
      },
      30_000,
    );
    const failed = await leaseOf(bidId);
    expect(failed.end_reason).toBe('start_timeout: not running 5 s after placement: Resources');
    expect(failed.started_at).toBeNull();
    // Not a second of pending time is charged.
    expect(await q(`SELECT * FROM ledger_entries WHERE lease_id = $1`, [lease.id])).toEqual([]);
    const [bidRow] = await q(`SELECT status, remaining_seconds FROM bids WHERE id = $1`, [bidId]);
    expect(bidRow).toEqual({ status: 'open', remaining_seconds: 600 });
    const [event] = await q(`SELECT data FROM market_events WHERE type = 'lease.failed' AND subject_id = $1`, [
      lease.id,
    ]);
    expect(event.data).toMatchObject({ reason: failed.end_reason, bidReopened: true, bidStatus: 'open' });
    // The platform is told to drop the pending job, and it is gone from the fleet.
    await until('the terminate to reach the fleet', () => fleet.callsOf(lease.id, 'terminate') > 0);
    await until(
      'the workload gone',
      async () =>
        (await fleet.workload(lease.id)) === undefined || (await fleet.workload(lease.id))!.signals.length > 0,
    );

    // The platform frees up: the reopened bid is placed again, starts and runs.
    fleet.pending.delete(bidId);
    expect((await round())?.placements).toBe(1);
    const again = await leaseOf(bidId);
    expect(again.id).not.toBe(lease.id);
    await placeDone(again.id);
    await sync();
    expect((await leaseOf(bidId)).state).toBe('running');
    await t.http().delete(`/v1/bids/${bidId}`).set(auth(tenant.apiKey));
  }, 60_000);

  it('fails an agent lease the agent never reported running, without a platform reason to give', async () => {
    const agents = await createProvider(t, 'silent-agents', 'nvidia-agent');
    await putNodes(t, agents.apiKey, [node('agent-1', { region: 'agent' })]);
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ regions: ['agent'], runtimeSeconds: 600 }));
    const bidId = response.body.id as string;
    expect((await round())?.placements).toBe(1);
    const lease = await leaseOf(bidId);
    // The agent takes the place order and accepts it, then never reports the workload running.
    let placeOrderId = '';
    await until('the place order', async () => {
      const orders = (await t.http().get('/v1/agent/orders?node=agent-1&waitSeconds=0').set(auth(agents.apiKey))).body
        .orders as Array<{ id: string; type: string }>;
      placeOrderId = orders.find((o) => o.type === 'place')?.id ?? '';
      return placeOrderId !== '';
    });
    await t
      .http()
      .post(`/v1/agent/orders/${placeOrderId}/ack`)
      .set(auth(agents.apiKey))
      .send({ ok: true, handle: 'agent-1/x', gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7] });
    await placeDone(lease.id);

    await until(
      'the start timeout',
      async () => {
        await sync();
        return (await leaseOf(bidId)).state === 'failed';
      },
      30_000,
    );
    expect((await leaseOf(bidId)).end_reason).toBe(
      'start_timeout: not running 5 s after placement (workload not reported running)',
    );
    expect((await q(`SELECT status FROM bids WHERE id = $1`, [bidId]))[0].status).toBe('open');
    // The agent is told to stop it.
    await until('the terminate order for the agent', async () => {
      const orders = (await t.http().get('/v1/agent/orders?node=agent-1&waitSeconds=0').set(auth(agents.apiKey))).body
        .orders as Array<{ id: string; type: string; leaseId: string }>;
      const terminate = orders.find((o) => o.type === 'terminate' && o.leaseId === lease.id);
      if (terminate)
        await t.http().post(`/v1/agent/orders/${terminate.id}/ack`).set(auth(agents.apiKey)).send({ ok: true });
      return terminate !== undefined;
    });
    await q(`UPDATE bids SET status = 'cancelled' WHERE id = $1`, [bidId]);
  }, 60_000);
});
