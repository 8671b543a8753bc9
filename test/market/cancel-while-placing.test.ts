import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentOrder } from '../../src/modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

/**
 * A tenant cancels while its workload is being placed: the agent has the place order but has not
 * acknowledged it, so the market holds no handle yet. The stop must not conclude "nothing runs"
 * and drop the terminate, or the workload would run on with no lease and no charge. Real path on
 * PostgreSQL and Redis; the test acts as the node's agent over HTTP.
 */
describe('cancel while a place is in flight', () => {
  let t: TestApp;
  let agents: { id: string; apiKey: string };
  let tenant: { id: string; apiKey: string };
  const q = async (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const poll = async (externalId: string): Promise<AgentOrder[]> => {
    const response = await t.http().get(`/v1/agent/orders?node=${externalId}&waitSeconds=0`).set(auth(agents.apiKey));
    expect(response.status).toBe(200);
    return response.body.orders as AgentOrder[];
  };
  const ack = async (order: AgentOrder) =>
    t
      .http()
      .post(`/v1/agent/orders/${order.id}/ack`)
      .set(auth(agents.apiKey))
      .send({ ok: true, handle: `${order.leaseId}`, gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7] });

  beforeAll(async () => {
    t = await createTestApp();
    agents = await createProvider(t, 'agents', 'nvidia-agent');
    tenant = await createTenant(t);
    await putNodes(t, agents.apiKey, [node('slow-1', { region: 'slow' })]);
  });
  afterAll(async () => t?.close());

  it('terminates the workload whose place the agent acknowledges after the tenant cancelled', async () => {
    const created = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenant.apiKey))
      .send(bidBody({ regions: ['slow'], gpus: 8 }));
    expect(created.status).toBe(201);
    const bidId = created.body.id as string;
    await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2036, 0, 1)) });
    const [lease] = await q(`SELECT id FROM leases WHERE bid_id = $1`, [bidId]);
    expect(lease).toBeDefined();

    // The agent takes the place order and starts the workload, but has not acknowledged it.
    let place: AgentOrder | undefined;
    await until('the place order at the agent', async () => {
      place = (await poll('slow-1')).find((o) => o.type === 'place' && o.leaseId === lease.id);
      return place !== undefined;
    });

    // The tenant cancels; the terminate is carried out while the place is still in flight.
    expect((await t.http().delete(`/v1/bids/${bidId}`).set(auth(tenant.apiKey))).status).toBeLessThan(300);
    await until('the terminate order settled', async () =>
      (await q(`SELECT state FROM orders WHERE lease_id = $1 AND type = 'terminate'`, [lease.id])).some(
        (o: { state: string }) => o.state === 'done',
      ),
    );

    // Now the agent reports the workload started: the market must still stop it.
    expect((await ack(place!)).status).toBe(204);
    let terminate: AgentOrder | undefined;
    await until('a terminate order at the agent for the cancelled lease', async () => {
      terminate = (await poll('slow-1')).find((o) => o.type === 'terminate' && o.leaseId === lease.id);
      return terminate !== undefined;
    });
    expect((await ack(terminate!)).status).toBe(204);
    await until('every order of the lease done', async () =>
      (await q(`SELECT state FROM orders WHERE lease_id = $1`, [lease.id])).every(
        (o: { state: string }) => o.state === 'done' || o.state === 'withdrawn',
      ),
    );
    const [row] = await q(`SELECT state, end_reason FROM leases WHERE id = $1`, [lease.id]);
    expect(row).toMatchObject({ state: 'cancelled', end_reason: 'cancelled' });
    // The place is recorded as carried out, with the handle the terminate used.
    const [placeRow] = await q(`SELECT state, handle FROM orders WHERE lease_id = $1 AND type = 'place'`, [lease.id]);
    expect(placeRow.state).toBe('done');
    expect(placeRow.handle).toMatch(/slow-1/);
  });
});
