import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { ProviderHoldsService } from '../../src/modules/dispatch/provider-holds.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { startSlurmTestCluster, type SlurmTestCluster } from '../adapters/support/slurm-test-cluster.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

/**
 * The start timeout and the provider's own jobs on a real Slurm controller (slurmctld + slurmd on
 * loopback), through the service: a lease placed on a node the provider's own job holds pends
 * on `Resources`, fails `start_timeout` naming that reason, is never charged and its bid
 * reopens; once the market has read the provider's jobs, the next round does not sell the node.
 */
describe('start timeout on a real Slurm controller', () => {
  let cluster: SlurmTestCluster;
  let t: TestApp;
  const slurm = (tool: string, args: string[]) =>
    execFileSync(tool, args, { env: { ...process.env, SLURM_CONF: cluster.slurmConf }, encoding: 'utf8' }).trim();

  beforeAll(async () => {
    cluster = await startSlurmTestCluster();
    t = await createTestApp({
      SLURM_BIN_DIR: dirname(execFileSync('which', ['sbatch'], { encoding: 'utf8' }).trim()),
      SLURM_CONF: cluster.slurmConf,
      SLURM_WORK_DIR: mkdtempSync(join(tmpdir(), 'gpumarket-slurm-work-')),
      SLURM_CPUS_PER_GPU: '1',
      PLACEMENT_START_TIMEOUT_SECONDS: '4',
    });
    // This test reads the provider's jobs itself, at the moment it chooses.
    t.app.get(ProviderHoldsService).onApplicationShutdown();
  }, 360_000);
  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
  });

  it("fails a lease pending behind the provider's own job with its Slurm reason, then stops selling the held node", async () => {
    const provider = await createProvider(t, 'hpc', 'slurm');
    const tenant = await createTenant(t);
    await putNodes(t, provider.apiKey, [node(cluster.node, { region: 'slurm-real', gpus: cluster.gpus })]);
    const foreign = slurm('sbatch', [
      '--parsable',
      `--gres=gpu:h100:${cluster.gpus}`,
      `--nodelist=${cluster.node}`,
      '--output=/dev/null',
      '--wrap=sleep 300',
    ]);
    try {
      await until(
        "the provider's own job runs",
        async () => slurm('squeue', ['-h', '-j', foreign, '-o', '%T']) === 'RUNNING',
      );
      const response = await t
        .http()
        .post('/v1/bids')
        .set(auth(tenant.apiKey))
        .send(
          bidBody({ regions: ['slurm-real'], gpus: 2, contiguity: 'node', workload: { command: ['sleep', '60'] } }),
        );
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      const bidId = response.body.id as string;
      await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2038, 0, 1)) });
      const lease = async () =>
        (
          await t.dataSource.query(
            `SELECT id, state, end_reason FROM leases WHERE bid_id = $1 ORDER BY created_at DESC LIMIT 1`,
            [bidId],
          )
        )[0];
      expect((await lease()).state).toBe('allocated');

      const sync = t.app.get(LeaseSyncService);
      await until('the start timeout', async () => (await sync.syncAll(), (await lease()).state === 'failed'), 90_000);
      const failed = await lease();
      expect(failed.end_reason).toMatch(/^start_timeout: not running \d+ s after placement: Resources/);
      expect(
        (await t.dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE lease_id = $1`, [failed.id]))[0]
          .n,
      ).toBe(0);
      expect((await t.dataSource.query(`SELECT status FROM bids WHERE id = $1`, [bidId]))[0].status).toBe('open');
      // Its pending job is gone from the controller.
      await until(
        'the pending job cancelled',
        async () =>
          !slurm('squeue', ['-h', '-o', '%j'])
            .split('\n')
            .some((name) => name.startsWith('gpumarket-')),
      );

      await t.app.get(ProviderHoldsService).refresh();
      const nodes = (await t.http().get('/v1/nodes').set(auth(provider.apiKey))).body.nodes as Array<{
        unavailableGpus: unknown[];
      }>;
      expect(nodes[0].unavailableGpus).toHaveLength(cluster.gpus);
      await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2038, 0, 1, 0, 1)) });
      expect((await lease()).id).toBe(failed.id);
      expect((await t.dataSource.query(`SELECT status FROM bids WHERE id = $1`, [bidId]))[0].status).toBe('open');
    } finally {
      slurm('scancel', [foreign]);
    }
  }, 180_000);
});
