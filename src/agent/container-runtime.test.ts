import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentTestRig } from '../../test/adapters/support/agent-fleet.js';
import { NvidiaAgentAdapter } from '../modules/dispatch/adapters/nvidia-agent/nvidia-agent.adapter.js';
import type { PlaceOrder } from '../modules/dispatch/adapters/provider-adapter.js';
import { cdiListsAll, containerName, runArgs } from './container-runtime.js';
import { parseGpuQuery } from './nvidia-smi-parser.js';

// Container runtimes through their exact command lines: a fake docker/podman/nvidia-ctk on PATH
// records every call and plays back container states (podman cannot start containers here).
const FAKE = fileURLToPath(new URL('../../test/adapters/support/fake-container-cli.mjs', import.meta.url));
const H100 = parseGpuQuery(
  readFileSync(new URL('../../test/adapters/fixtures/nvidia-smi/h100-8x.query-gpu.csv', import.meta.url), 'utf8'),
);
const root = process.getuid?.() === 0;
const bin = mkdtempSync(join(tmpdir(), 'gpumarket-fake-cli-'));
const originalPath = process.env.PATH;
const rigs: AgentTestRig[] = [];

beforeAll(() => {
  for (const tool of ['docker', 'podman', 'nvidia-ctk']) symlinkSync(FAKE, join(bin, tool));
  process.env.PATH = `${bin}:${originalPath}`;
});

afterAll(async () => {
  process.env.PATH = originalPath;
  for (const rig of rigs) await rig.close();
});

const spec = (env: Record<string, string> = {}) => ({
  leaseId: 'lease-42',
  node: 'gpu-host-1',
  image: 'ghcr.io/acme/train:1.2',
  command: ['python', 'train.py', '--epochs', '3'],
  env: { RUN_NAME: 'r1', GPUMARKET_LEASE_ID: 'lease-42', GPUMARKET_NODE: 'gpu-host-1', ...env },
  gpus: [
    { index: 2, uuid: 'GPU-aaa' },
    { index: 3, uuid: 'GPU-bbb' },
  ],
});
const settings = {
  cdi: false,
  network: 'bridge',
  scratch: '/var/lib/gpumarket-scratch/lease-42',
  user: { uid: 998, gid: 997 },
};

describe('container command lines', () => {
  const tail = [
    '--env',
    'RUN_NAME=r1',
    '--env',
    'GPUMARKET_LEASE_ID=lease-42',
    '--env',
    'GPUMARKET_NODE=gpu-host-1',
    '-v',
    '/var/lib/gpumarket-scratch/lease-42:/scratch',
    '--user',
    '998:997',
    '--security-opt',
    'no-new-privileges',
    '--cap-drop',
    'ALL',
    '--network',
    'bridge',
  ];
  const head = ['run', '-d', '--name', 'gpumarket-lease-42', '--label', 'gpumarket.lease=lease-42'];
  const image = ['ghcr.io/acme/train:1.2', 'python', 'train.py', '--epochs', '3'];

  it('docker without CDI passes the GPUs by UUID in one quoted --gpus device list', () => {
    expect(runArgs(spec(), { kind: 'docker', ...settings })).toEqual([
      ...head,
      '--gpus',
      '"device=GPU-aaa,GPU-bbb"',
      ...tail,
      ...image,
    ]);
  });

  it('docker with CDI and podman always pass one CDI device per GPU', () => {
    const cdi = ['--device', 'nvidia.com/gpu=GPU-aaa', '--device', 'nvidia.com/gpu=GPU-bbb'];
    expect(runArgs(spec(), { kind: 'docker', ...settings, cdi: true })).toEqual([...head, ...cdi, ...tail, ...image]);
    expect(runArgs(spec(), { kind: 'podman', ...settings })).toEqual([...head, ...cdi, ...tail, ...image]);
  });

  it('publishes PORT when the lease has one, on the configured network', () => {
    const args = runArgs(spec({ PORT: '8080' }), { kind: 'podman', ...settings, network: 'gpumarket' });
    expect(args.slice(args.indexOf('--network'), args.indexOf('ghcr.io/acme/train:1.2'))).toEqual([
      '--network',
      'gpumarket',
      '-p',
      '8080:8080',
    ]);
  });

  it("publishes a service replica's node port to its declared port, so two replicas on one node do not collide", () => {
    const args = runArgs(
      { ...spec({ PORT: '8080' }), publish: { host: 40123, container: 8080 } },
      { kind: 'docker', ...settings },
    );
    expect(args.slice(args.indexOf('--network'), args.indexOf('ghcr.io/acme/train:1.2'))).toEqual([
      '--network',
      'bridge',
      '-p',
      '40123:8080',
    ]);
  });

  it('uses CDI for docker only when nvidia-ctk lists every GPU by UUID', () => {
    const list = 'nvidia.com/gpu=0\nnvidia.com/gpu=GPU-aaa\nnvidia.com/gpu=GPU-bbb\nnvidia.com/gpu=all\n';
    expect(cdiListsAll(list, ['GPU-aaa', 'GPU-bbb'])).toBe(true);
    expect(cdiListsAll(list, ['GPU-aaa', 'GPU-ccc'])).toBe(false);
    expect(cdiListsAll('', [])).toBe(false);
  });
});

function calls(dir: string): string[][] {
  const file = join(dir, 'calls.jsonl');
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as string[])
    : [];
}

async function until<T>(check: () => T | undefined, what: string, ms = 20_000): Promise<T> {
  for (let waited = 0; waited < ms; waited += 50) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function containerRig(kind: 'docker' | 'podman', cdi: boolean) {
  const fakeDir = mkdtempSync(join(tmpdir(), 'gpumarket-fake-engine-'));
  process.env.FAKE_CLI_DIR = fakeDir;
  writeFileSync(
    join(fakeDir, 'cdi.txt'),
    cdi ? H100.map((gpu) => `nvidia.com/gpu=${gpu.uuid}`).join('\n') : 'nvidia.com/gpu=all\n',
  );
  const rig = new AgentTestRig(`ctr-${randomUUID().slice(0, 8)}`, 'h100-8x', {
    runtime: kind,
    ...(root ? { workloadUser: 'gpmtest' } : {}),
  });
  rigs.push(rig);
  await rig.server.start();
  await rig.startAgent();
  return { rig, fakeDir, adapter: new NvidiaAgentAdapter(rig.queue, { ackTimeoutMs: 10_000 }) };
}

function imageOrder(rig: AgentTestRig, gpus: number): PlaceOrder {
  const leaseId = `lease-${randomUUID()}`;
  return {
    leaseId,
    bidId: `bid-${leaseId}`,
    tenantId: 'tenant-ctr',
    gpuModel: 'H100-SXM-80GB',
    nodes: [{ nodeId: 'node-1', externalId: rig.node, gpus }],
    workload: {
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      command: ['python', '-c', 'print(1)'],
      env: { RUN_NAME: 'r7' },
    },
    runtimeSeconds: 60,
  };
}

describe('container runtimes through the agent', () => {
  it('docker with CDI: the exact run line, then stop -t <grace> and rm -f, reported stopped', async () => {
    const { rig, fakeDir, adapter } = await containerRig('docker', true);
    const order = imageOrder(rig, 2);
    const { handle } = await adapter.place(order);
    const name = containerName(order.leaseId);
    await until(
      () => rig.server.reports.find((report) => report.leaseId === order.leaseId && report.state === 'running'),
      'running',
    );
    const record = rig.agent!.snapshot().find((lease) => lease.leaseId === order.leaseId)!;
    const user = root
      ? `${execFileSync('id', ['-u', 'gpmtest-g0'], { encoding: 'utf8' }).trim()}:${execFileSync('id', ['-g', 'gpmtest-g0'], { encoding: 'utf8' }).trim()}`
      : `${process.getuid!()}:${process.getgid!()}`;
    const engine = calls(fakeDir).filter(
      ([tool, command]) => tool === 'docker' && command !== 'inspect' && command !== 'version',
    );
    expect(engine).toEqual([
      ['docker', 'rm', '-f', name],
      [
        'docker',
        'run',
        '-d',
        '--name',
        name,
        '--label',
        `gpumarket.lease=${order.leaseId}`,
        '--device',
        `nvidia.com/gpu=${H100[0]!.uuid}`,
        '--device',
        `nvidia.com/gpu=${H100[1]!.uuid}`,
        '--env',
        'RUN_NAME=r7',
        '--env',
        `GPUMARKET_LEASE_ID=${order.leaseId}`,
        '--env',
        `GPUMARKET_NODE=${rig.node}`,
        '-v',
        `${record.scratch}:/scratch`,
        '--user',
        user,
        '--security-opt',
        'no-new-privileges',
        '--cap-drop',
        'ALL',
        '--network',
        'bridge',
        'nvcr.io/nvidia/pytorch:24.05-py3',
        'python',
        '-c',
        'print(1)',
      ],
    ]);
    expect(calls(fakeDir)).toContainEqual([
      'docker',
      'inspect',
      '--type',
      'container',
      '--format',
      '{{json .State}}',
      name,
    ]);

    await adapter.preempt({ leaseId: order.leaseId, handle, graceSeconds: 2 });
    const end = await until(
      () => rig.server.reports.find((report) => report.leaseId === order.leaseId && report.state !== 'running'),
      'the stop',
    );
    expect(end).toMatchObject({ state: 'stopped', exitCode: 143 });
    const afterRun = calls(fakeDir)
      .filter(([tool, command]) => tool === 'docker' && command !== 'inspect')
      .slice(2);
    expect(afterRun).toEqual([
      ['docker', 'stop', '-t', '2', name],
      ['docker', 'rm', '-f', name],
    ]);
    expect(existsSync(record.scratch!)).toBe(false);
  });

  it('docker without CDI passes --gpus "device=<uuid>"; podman always CDI; a container that exits is reported with its code and removed', async () => {
    const docker = await containerRig('docker', false);
    const dockerOrder = imageOrder(docker.rig, 1);
    await docker.adapter.place(dockerOrder);
    const run = await until(() => calls(docker.fakeDir).find(([, command]) => command === 'run'), 'docker run');
    expect(run.slice(run.indexOf('--gpus'), run.indexOf('--gpus') + 2)).toEqual([
      '--gpus',
      `"device=${H100[0]!.uuid}"`,
    ]);
    // The fake engine's directory is per process: this agent must stop asking before the next one starts.
    await docker.rig.close();

    const podman = await containerRig('podman', false);
    const order = imageOrder(podman.rig, 1);
    await podman.adapter.place(order);
    const name = containerName(order.leaseId);
    const podmanRun = await until(
      () => calls(podman.fakeDir).find(([tool, command]) => tool === 'podman' && command === 'run'),
      'podman run',
    );
    expect(podmanRun.slice(podmanRun.indexOf('--device'), podmanRun.indexOf('--device') + 2)).toEqual([
      '--device',
      `nvidia.com/gpu=${H100[0]!.uuid}`,
    ]);
    writeFileSync(
      join(podman.fakeDir, `${name}.json`),
      JSON.stringify({ Status: 'exited', Running: false, ExitCode: 3 }),
    );
    const end = await until(
      () => podman.rig.server.reports.find((report) => report.leaseId === order.leaseId && report.state !== 'running'),
      'the exit',
    );
    expect(end).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(
      calls(podman.fakeDir)
        .filter(([tool, command]) => tool === 'podman' && command !== 'inspect')
        .at(-1),
    ).toEqual(['podman', 'rm', '-f', name]);
  });

  it('refuses a command without an image under a container runtime, and an image under the process runtime, permanently', async () => {
    const { rig, adapter } = await containerRig('docker', true);
    const noImage = { ...imageOrder(rig, 1), workload: { command: ['sleep', '1'] } };
    await expect(adapter.place(noImage)).rejects.toThrow(/workload.image is missing/);
    const processRig = new AgentTestRig(`proc-${randomUUID().slice(0, 8)}`);
    rigs.push(processRig);
    await processRig.server.start();
    await processRig.startAgent();
    await expect(
      new NvidiaAgentAdapter(processRig.queue, { ackTimeoutMs: 10_000 }).place(imageOrder(processRig, 1)),
    ).rejects.toThrow(/--runtime docker or podman/);
  });
});
