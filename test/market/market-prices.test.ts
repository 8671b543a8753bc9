import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

describe('GET /v1/market/prices: the marginal bid and its price', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    const provider = await createProvider(t, 'congested');
    await putNodes(t, provider.apiKey, [node('c-1', { region: 'eu-west', reservePrice: '1.50' })]);
    t.app.get(AdapterRegistry).use(provider.id, new SimulatedAdapter({ nodes: [{ externalId: 'c-1', gpus: 8 }] }));
  });
  afterAll(async () => t?.close());

  it("shows the price, the bid that set it and that bid's limit in the pool's model, and no free GPUs", async () => {
    const tenant = await createTenant(t);
    const submit = async (offers: Array<{ gpuModel: string; maxPrice: string }>) =>
      (
        await t
          .http()
          .post('/v1/bids')
          .set(auth(tenant.apiKey))
          .send(bidBody({ gpus: 4, offers }))
      ).body.id as string;
    await submit([{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }]);
    await submit([{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.80' }]);
    // Turned away for lack of GPUs: its H100 offer sets the price; its A100 offer has nothing to do with it.
    const marginal = await submit([
      { gpuModel: 'A100-SXM-80GB', maxPrice: '1.10' },
      { gpuModel: 'H100-SXM-80GB', maxPrice: '2.20' },
    ]);
    const round = await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2034, 0, 1)) });
    expect(round?.placements).toBe(2);

    const response = await t.http().get('/v1/market/prices').set(auth(tenant.apiKey));
    expect(response.status).toBe(200);
    expect(response.body.pools).toEqual([
      {
        gpuModel: 'H100-SXM-80GB',
        region: 'eu-west',
        price: '2.20',
        roundId: round!.roundId,
        periodStart: '2034-01-01T00:00:00.000Z',
        marginalBidId: marginal,
        marginalBidPrice: '2.20',
        supplyGpus: 8,
        freeGpus: 0,
        reserveFloor: '1.50',
      },
    ]);
    const detail = await t.http().get(`/v1/rounds/${round!.roundId}`).set(auth(tenant.apiKey));
    expect(detail.body.prices).toEqual([
      expect.objectContaining({ price: '2.20', marginalBidId: marginal, marginalBidPrice: '2.20' }),
    ]);
  });

  it('documents marginalBidPrice in the OpenAPI document', async () => {
    const schemas = (await t.http().get('/docs/openapi.json')).body.components.schemas;
    expect(schemas.MarketPriceDto.properties.marginalBidPrice).toMatchObject({ type: 'string', nullable: true });
    expect(schemas.PoolPriceDto.properties.marginalBidPrice).toMatchObject({ type: 'string', nullable: true });
  });
});
