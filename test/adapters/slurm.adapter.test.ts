import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as providerCommand } from '../../src/cli/provider.command.js';
import { InMemoryAgentOrderQueue } from '../../src/modules/dispatch/adapters/nvidia-agent/in-memory-agent-order-queue.js';
import { AdapterError } from '../../src/modules/dispatch/adapters/provider-adapter.js';
import { SlurmAdapter } from '../../src/modules/dispatch/adapters/slurm/slurm.adapter.js';
import { adapterContract, contractOrder, waitForState, type ContractFleet } from './contract/adapter-contract.js';
import { AgentMarketServer } from './support/agent-market-server.js';
import { probeCommand, readProbeLog } from './support/probe-log.js';
import { startSlurmTestCluster, type SlurmTestCluster } from './support/slurm-test-cluster.js';

// Against a real single-node slurmctld + slurmd on loopback with eight fake H100 GPUs.
let cluster: SlurmTestCluster;
const adapters: SlurmAdapter[] = [];
const logs = mkdtempSync(join(tmpdir(), 'gpumarket-slurm-probe-'));

beforeAll(async () => {
  cluster = await startSlurmTestCluster();
}, 300_000);

afterAll(async () => {
  for (const adapter of adapters) adapter.close();
  await cluster?.stop();
});

function slurmFleet(): ContractFleet {
  const instance = () => {
    const made = new SlurmAdapter({ slurmConf: cluster.slurmConf, workDir: logs, cpusPerGpu: 1 });
    adapters.push(made);
    return made;
  };
  return {
    adapter: instance(),
    fresh: instance,
    node: { nodeId: 'node-1', externalId: cluster.node, gpus: cluster.gpus, gpuType: 'h100' },
    graceSeconds: 2,
    settleMs: 20_000,
    workload: (leaseId, behaviour) => ({
      command: probeCommand(join(logs, `${leaseId}.jsonl`), behaviour),
      env: { GPUMARKET_TEST_MARKER: `marker of ${leaseId}` },
    }),
    observe: async (leaseId) => readProbeLog(join(logs, `${leaseId}.jsonl`)),
    pass: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

adapterContract('slurm', slurmFleet);

describe('slurm adapter on a real controller', () => {
  it("passes the workload's environment to the job and nothing of the market's own", async () => {
    process.env.GPUMARKET_MARKET_SECRET = 'must-not-leak';
    const fleet = slurmFleet();
    const order = contractOrder(fleet, 2, { kind: 'run', seconds: 0 });
    const envFile = join(logs, `${order.leaseId}.env`);
    const { handle } = await fleet.adapter.place({
      ...order,
      workload: { command: ['/bin/sh', '-c', `env > ${envFile}`], env: { RUN_NAME: "it's a 'quoted' value" } },
    });
    await waitForState(fleet, order, handle, ['completed']);
    const env = readFileSync(envFile, 'utf8');
    expect(env).toContain("RUN_NAME=it's a 'quoted' value");
    expect(env).toContain(`GPUMARKET_LEASE_ID=${order.leaseId}`);
    expect(env).toMatch(/^CUDA_VISIBLE_DEVICES=\d+,\d+$/m);
    expect(env).not.toContain('must-not-leak');
  });

  it("reports a lease whose GPUs the provider's own job holds as pending on Resources, then runs it when they are free", async () => {
    const fleet = slurmFleet();
    // A job of the provider's own users, not the market's, takes every GPU of the node.
    const slurm = (tool: string, args: string[]) =>
      execFileSync(tool, args, { env: { ...process.env, SLURM_CONF: cluster.slurmConf }, encoding: 'utf8' }).trim();
    const foreign = slurm('sbatch', [
      '--parsable',
      `--gres=gpu:h100:${cluster.gpus}`,
      `--nodelist=${cluster.node}`,
      '--output=/dev/null',
      '--wrap=sleep 120',
    ]);
    try {
      while (!/RUNNING/.test(slurm('squeue', ['-h', '-j', foreign, '-o', '%T']))) await fleet.pass(100);
      const waiting = contractOrder(fleet, 1, { kind: 'exit', code: 0, afterSeconds: 0 });
      const { handle } = await fleet.adapter.place(waiting);
      // The reason appears once the scheduler has looked at the job; until then it is pending too.
      let pending = await fleet.adapter.status(waiting.leaseId, handle);
      for (let tries = 0; tries < 100 && pending.waitingReason !== 'Resources'; tries += 1) {
        expect(pending.state).toBe('pending');
        await fleet.pass(100);
        pending = await fleet.adapter.status(waiting.leaseId, handle);
      }
      expect(pending).toMatchObject({
        state: 'pending',
        waitingReason: 'Resources',
        message: 'slurm PENDING: Resources',
      });
      // What the market marks unavailable on the node while the provider's own job holds it.
      expect(Object.fromEntries(await (fleet.adapter as SlurmAdapter).foreignGpuUse())).toEqual({
        [cluster.node]: cluster.gpus,
      });
      slurm('scancel', [foreign]);
      expect(await waitForState(fleet, waiting, handle, ['completed'])).toMatchObject({ exitCode: 0 });
    } finally {
      slurm('scancel', [foreign]);
    }
  });

  it("writes the job's output into the lease's own work directory, not the market's", async () => {
    const fleet = slurmFleet();
    const order = contractOrder(fleet, 1, { kind: 'exit', code: 0, afterSeconds: 0 });
    const { handle } = await fleet.adapter.place({
      ...order,
      workload: { command: ['/bin/sh', '-c', 'pwd; echo to-stderr >&2'] },
    });
    await waitForState(fleet, order, handle, ['completed']);
    const dir = join(logs, order.leaseId);
    expect(readFileSync(join(dir, `slurm-${handle}.out`), 'utf8').trim()).toBe(dir);
    expect(readFileSync(join(dir, `slurm-${handle}.err`), 'utf8').trim()).toBe('to-stderr');
    expect(existsSync(join(process.cwd(), `slurm-${handle}.out`))).toBe(false);
  });

  it('reads the status of many leases with one query', async () => {
    const fleet = slurmFleet();
    const orders = [1, 2].map(() => contractOrder(fleet, 1, { kind: 'exit', code: 0, afterSeconds: 0 }));
    const handles = await Promise.all(orders.map((order) => fleet.adapter.place(order)));
    for (const [index, order] of orders.entries())
      await waitForState(fleet, order, handles[index]!.handle, ['completed']);
    const adapter = fleet.adapter as SlurmAdapter;
    const answers = await adapter.statusMany([
      ...orders.map((order, index) => ({ leaseId: order.leaseId, handle: handles[index]!.handle })),
      { leaseId: 'lease-never-placed', handle: '987655' },
    ]);
    expect(orders.map((order) => answers.get(order.leaseId))).toEqual([
      { state: 'completed', exitCode: 0 },
      { state: 'completed', exitCode: 0 },
    ]);
    expect(answers.get('lease-never-placed')).toMatchObject({
      state: 'failed',
      message: expect.stringMatching(/vanished/),
    });
  });

  it('reports a job the controller no longer knows as failed, naming it vanished', async () => {
    const fleet = slurmFleet();
    const status = await fleet.adapter.status('lease-gone', '987654');
    expect(status.state).toBe('failed');
    expect(status.message).toMatch(/vanished/);
  });

  it('names the job after the lease so that an operator can find it', async () => {
    const fleet = slurmFleet();
    const order = contractOrder(fleet, 1, { kind: 'exit', code: 0, afterSeconds: 0 });
    const { handle } = await fleet.adapter.place(order);
    await waitForState(fleet, order, handle, ['completed']);
    const adapter = new SlurmAdapter({ slurmConf: cluster.slurmConf });
    // A second adapter (another market replica, or the market after a restart) finds the job.
    expect((await adapter.place(order)).handle).toBe(handle);
    expect(readProbeLog(join(logs, `${order.leaseId}.jsonl`)).starts).toBe(1);
  });

  it('turns an unreachable controller into a retryable error', async () => {
    const conf = join(cluster.dir, 'unreachable.conf');
    writeFileSync(
      conf,
      readFileSync(cluster.slurmConf, 'utf8')
        .replace(/^SlurmctldPort=.*$/m, 'SlurmctldPort=9')
        .concat('MessageTimeout=1\n'),
    );
    const adapter = new SlurmAdapter({ slurmConf: conf, timeoutMs: 20_000 });
    const error = await adapter.status('lease-x', '1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdapterError);
    expect((error as AdapterError).kind).toBe('retryable');
  });
});

describe('gpumarket provider import-slurm', () => {
  it("registers the cluster's GPU nodes with the market, reading them from the controller", async () => {
    const market = new AgentMarketServer(new InMemoryAgentOrderQueue(), 'provider-key');
    await market.start();
    try {
      const code = await providerCommand([
        'import-slurm',
        '--slurm-conf',
        cluster.slurmConf,
        '--region',
        'eu-west',
        '--block',
        'ib-leaf-2',
        '--reserve-price',
        '2.40',
        '--market',
        market.url,
        '--key',
        'provider-key',
      ]);
      expect(code).toBe(0);
      expect(market.registrations).toEqual([
        {
          externalId: cluster.node,
          gpuModel: 'H100-SXM-80GB',
          gpus: cluster.gpus,
          region: 'eu-west',
          block: 'ib-leaf-2',
          reservePrice: '2.40',
        },
      ]);
    } finally {
      await market.stop();
    }
  });
});
