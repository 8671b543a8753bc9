import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderHoldsService } from '../../src/modules/dispatch/provider-holds.service.js';
import { auth, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * GPUs a Slurm provider's own jobs hold are not sold: the service reads the controller's running
 * jobs (a stand-in squeue printing Slurm 24.05 JSON here; the real controller is exercised in
 * test/adapters) and marks those GPUs `provider_jobs` on the node, and frees them again when the
 * jobs end. The market's own jobs (`gpumarket-*`) do not count.
 */
describe("GPUs held by a provider's own Slurm jobs", () => {
  let t: TestApp;
  let bin: string;
  let slurm: { id: string; apiKey: string };
  let tenant: { id: string; apiKey: string };
  const running = (jobs: Array<{ name: string; nodes: string; gres: string }>) =>
    writeFileSync(
      join(bin, 'squeue.json'),
      JSON.stringify({
        jobs: jobs.map((j, i) => ({
          job_id: 100 + i,
          name: j.name,
          job_state: ['RUNNING'],
          nodes: j.nodes,
          gres_detail: [j.gres],
        })),
      }),
    );
  const unavailable = async (externalId: string) =>
    (
      (await t.http().get('/v1/nodes').set(auth(slurm.apiKey))).body.nodes as Array<{
        externalId: string;
        unavailableGpus: Array<{ index: number; reason: string }>;
      }>
    ).find((n) => n.externalId === externalId)!.unavailableGpus;
  const freeGpus = async () =>
    (await t.http().get('/v1/market/prices').set(auth(tenant.apiKey))).body.pools.find(
      (p: { region: string }) => p.region === 'hpc',
    ).freeGpus as number;

  beforeAll(async () => {
    bin = mkdtempSync(join(tmpdir(), 'gpumarket-holds-'));
    for (const tool of ['sbatch', 'squeue']) {
      writeFileSync(join(bin, tool), `#!/bin/sh\ncat "${bin}/${tool}.json" 2>/dev/null || echo '{"jobs":[]}'\n`);
      chmodSync(join(bin, tool), 0o755);
    }
    t = await createTestApp({ SLURM_BIN_DIR: bin });
    slurm = await createProvider(t, 'hpc-centre', 'slurm');
    tenant = await createTenant(t);
    await putNodes(t, slurm.apiKey, [node('hpc-1', { region: 'hpc' }), node('hpc-2', { region: 'hpc' })]);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(bin, { recursive: true, force: true });
  });

  it("marks the GPUs of running jobs not the market's as unavailable, and frees them when the jobs end", async () => {
    const holds = t.app.get(ProviderHoldsService);
    expect(await freeGpus()).toBe(16);
    running([
      { name: 'user-training', nodes: 'hpc-1', gres: 'gpu:h100:6(IDX:0-5)' },
      { name: 'gpumarket-l-123', nodes: 'hpc-2', gres: 'gpu:h100:8(IDX:0-7)' },
    ]);
    await holds.refresh();
    expect((await unavailable('hpc-1')).map((g) => g.reason)).toEqual(Array(6).fill('provider_jobs'));
    expect(await unavailable('hpc-2')).toEqual([]);
    expect(await freeGpus()).toBe(10);
    // The same reading again changes nothing (the service's own 30 s timer may have read it first).
    expect(await holds.refresh()).toBe(0);

    running([]);
    await holds.refresh();
    expect(await unavailable('hpc-1')).toEqual([]);
    expect(await freeGpus()).toBe(16);
  });
});
