import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentTestRig } from '../../test/adapters/support/agent-fleet.js';
import { NvidiaAgentAdapter } from '../modules/dispatch/adapters/nvidia-agent/nvidia-agent.adapter.js';
import type { PlaceOrder } from '../modules/dispatch/adapters/provider-adapter.js';
import { parseAgentArgs } from '../cli/agent.command.js';
import { environValue, listProcesses } from './process-tree.js';

// The process runtime for real: workloads as other users, escaping their process group, hunting
// for the provider's key. Run as root (as in CI and this sandbox) every assertion runs; as another
// user the agent cannot switch users and the cross-tenant assertions are skipped with a reason.
const root = process.getuid?.() === 0;
if (!root)
  console.warn(
    'process-isolation.test: not running as root; the agent cannot switch users, cross-tenant assertions are skipped',
  );

const rigs: AgentTestRig[] = [];
const decoys: ChildProcess[] = [];

afterAll(async () => {
  for (const rig of rigs) await rig.close();
  for (const decoy of decoys) decoy.kill('SIGKILL');
});

async function startRig(settings: ConstructorParameters<typeof AgentTestRig>[2] = {}): Promise<AgentTestRig> {
  const rig = new AgentTestRig(`iso-${randomUUID().slice(0, 8)}`, 'h100-8x', {
    ...(root ? { workloadUser: 'gpmtest' } : {}),
    ...settings,
  });
  rigs.push(rig);
  await rig.server.start();
  await rig.startAgent();
  return rig;
}

function order(rig: AgentTestRig, gpus: number, command: string[]): PlaceOrder {
  const leaseId = `lease-${randomUUID()}`;
  return {
    leaseId,
    bidId: `bid-${leaseId}`,
    tenantId: 'tenant-iso',
    gpuModel: 'H100-SXM-80GB',
    nodes: [{ nodeId: 'node-1', externalId: rig.node, gpus }],
    workload: { command },
    runtimeSeconds: 60,
  };
}

async function until<T>(check: () => T | undefined | false, what: string, ms = 20_000): Promise<T> {
  for (let waited = 0; waited < ms; waited += 50) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function logOf(rig: AgentTestRig, leaseId: string): string {
  const lease = rig.agent!.snapshot().find((entry) => entry.leaseId === leaseId);
  return lease && existsSync(lease.logFile) ? readFileSync(lease.logFile, 'utf8') : '';
}

function field(log: string, name: string): string | undefined {
  return new RegExp(`^${name}=(.*)$`, 'm').exec(log)?.[1];
}

function alive(pid: number): boolean {
  const info = listProcesses().find((entry) => entry.pid === pid);
  return info !== undefined && !info.zombie;
}

function processesMarked(leaseId: string): number[] {
  return listProcesses()
    .filter((info) => !info.zombie && environValue(info.pid, 'GPUMARKET_LEASE_ID') === leaseId)
    .map((info) => info.pid);
}

describe('process runtime isolation', () => {
  it('the key-leak probe: a workload searching /proc, the state directory and the key file finds no key', async () => {
    const key = `gpm_provider_LEAKCANARY_${randomUUID()}`;
    const secrets = mkdtempSync(join(tmpdir(), 'gpumarket-key-'));
    const keyFile = join(secrets, 'provider.key');
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    // The agent reads its key the way the command does, and the env variable is gone afterwards.
    const config = parseAgentArgs(
      ['--market', 'http://m', '--key-file', keyFile, '--region', 'r', '--block', 'b', '--reserve-price', '1'],
      {},
    );
    expect(typeof config === 'object' && config.key).toBe(key);
    // A process started the careless way, with the key in its initial environment: /proc/<pid>/environ
    // keeps it for the process's life even after the agent deletes it from process.env. Only the
    // agent's own user may read that file.
    // As the same user a workload could read it; that case is the loud start-up warning, not a test.
    const started = spawn('sleep', ['120'], {
      env: { PATH: process.env.PATH, GPUMARKET_PROVIDER_KEY: root ? key : 'none' },
      stdio: 'ignore',
    });
    decoys.push(started);
    const rig = await startRig({ key });
    const probe = [
      '/bin/sh',
      '-c',
      [
        'found=$(grep -rlsF LEAKCANARY /proc/[0-9]*/environ "$1" "$2" "$3" 2>/dev/null | tr "\\n" " ")',
        'echo "found=$found"',
        'echo "ownenv=$(env | grep -c LEAKCANARY)"',
        // The search works: it finds the lease marker in its own environment.
        'echo "control=$(grep -c GPUMARKET_LEASE_ID /proc/self/environ)"',
        'if ls "$1" >/dev/null 2>&1; then echo statedir=listable; else echo statedir=closed; fi',
        'if cat "$2" >/dev/null 2>&1; then echo keyfile=readable; else echo keyfile=closed; fi',
        'echo "uid=$(id -u)"',
        'echo done=1',
      ].join('; '),
      'probe',
      rig.stateDir,
      keyFile,
      `/proc/${started.pid}/environ`,
    ];
    const adapter = new NvidiaAgentAdapter(rig.queue, { ackTimeoutMs: 10_000 });
    const lease = order(rig, 1, probe);
    await adapter.place(lease);
    const log = await until(
      () => (field(logOf(rig, lease.leaseId), 'done') ? logOf(rig, lease.leaseId) : undefined),
      'the probe',
    );
    expect(field(log, 'control')).toBe('1');
    expect(field(log, 'ownenv')).toBe('0');
    expect(field(log, 'found')?.trim()).toBe('');
    if (root) {
      expect(field(log, 'uid')).not.toBe('0');
      expect(field(log, 'statedir')).toBe('closed');
      expect(field(log, 'keyfile')).toBe('closed');
    }
    expect(statSync(rig.stateDir).mode & 0o777).toBe(0o700);
    expect(process.env.GPUMARKET_PROVIDER_KEY).toBeUndefined();
  });

  it.each([
    ['a cgroup per lease', true],
    ['/proc tracking only', false],
  ])(
    'the setsid escape (%s): after a stop no process of the lease survives, and only then is it reported stopped',
    async (_name, useCgroups) => {
      const rig = await startRig({ useCgroups });
      const adapter = new NvidiaAgentAdapter(rig.queue, { ackTimeoutMs: 10_000 });
      const lease = order(rig, 2, [
        '/bin/sh',
        '-c',
        `setsid sh -c 'trap "" TERM; echo escaped=$$; sleep 1000' & echo main=$$; wait`,
      ]);
      const { handle } = await adapter.place(lease);
      const escaped = Number(await until(() => field(logOf(rig, lease.leaseId), 'escaped'), 'the escaped shell'));
      expect(alive(escaped)).toBe(true);
      // It really left the lease's process group and session.
      const wrapper = rig.agent!.snapshot().find((entry) => entry.leaseId === lease.leaseId)!.pid;
      expect(listProcesses().find((info) => info.pid === escaped)!.pgid).not.toBe(wrapper);

      await adapter.preempt({ leaseId: lease.leaseId, handle, graceSeconds: 1 });
      const report = await until(
        () => rig.server.reports.find((entry) => entry.leaseId === lease.leaseId && entry.state !== 'running'),
        'the stop report',
      );
      expect(report.state).toBe('stopped');
      expect(alive(escaped)).toBe(false);
      expect(processesMarked(lease.leaseId)).toEqual([]);
      const record = rig.agent!.snapshot().find((entry) => entry.leaseId === lease.leaseId)!;
      expect(record.ended?.state).toBe('stopped');
      expect(existsSync(record.scratch!)).toBe(false);
    },
  );

  it('kills what a workload left running when it exits by itself, before its GPUs are free', async () => {
    const rig = await startRig();
    const adapter = new NvidiaAgentAdapter(rig.queue, { ackTimeoutMs: 10_000 });
    const lease = order(rig, 1, [
      '/bin/sh',
      '-c',
      `setsid sh -c 'trap "" TERM HUP; echo escaped=$$; sleep 1000' & sleep 0.2; exit 0`,
    ]);
    await adapter.place(lease);
    const escaped = Number(await until(() => field(logOf(rig, lease.leaseId), 'escaped'), 'the escaped shell'));
    const report = await until(
      () => rig.server.reports.find((entry) => entry.leaseId === lease.leaseId && entry.state !== 'running'),
      'the end report',
    );
    expect(report).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(alive(escaped)).toBe(false);
    expect(processesMarked(lease.leaseId)).toEqual([]);
  });

  it('gives each lease its own user and a 0700 scratch directory: another tenant cannot read it or signal its processes', async () => {
    const rig = await startRig();
    const adapter = new NvidiaAgentAdapter(rig.queue, { ackTimeoutMs: 10_000 });
    const victim = order(rig, 1, [
      '/bin/sh',
      '-c',
      'echo "$HOME" > /dev/null; echo secret > "$HOME/secret"; echo pid=$$; echo home=$HOME; exec sleep 1000',
    ]);
    await adapter.place(victim);
    const victimLog = await until(
      () => (field(logOf(rig, victim.leaseId), 'home') ? logOf(rig, victim.leaseId) : undefined),
      'the victim',
    );
    const home = field(victimLog, 'home')!;
    const pid = field(victimLog, 'pid')!;
    const record = rig.agent!.snapshot().find((entry) => entry.leaseId === victim.leaseId)!;
    expect(home).toBe(record.scratch);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    if (!root) {
      console.warn('skipped: cross-tenant checks need an agent that can switch users (run as root)');
      return;
    }
    expect(statSync(home).uid).not.toBe(0);
    const statePath = join(rig.stateDir, 'state.json');
    const attacker = order(rig, 1, [
      '/bin/sh',
      '-c',
      [
        `if cat ${home}/secret >/dev/null 2>&1; then echo read=yes; else echo read=no; fi`,
        `if ls ${home} >/dev/null 2>&1; then echo list=yes; else echo list=no; fi`,
        `if kill -0 ${pid} 2>/dev/null; then echo signal=yes; else echo signal=no; fi`,
        `if cat ${statePath} >/dev/null 2>&1; then echo state=yes; else echo state=no; fi`,
        `if cat ${record.logFile} >/dev/null 2>&1; then echo log=yes; else echo log=no; fi`,
        'echo uid=$(id -u)',
        'echo done=1',
      ].join('; '),
    ]);
    await adapter.place(attacker);
    const log = await until(
      () => (field(logOf(rig, attacker.leaseId), 'done') ? logOf(rig, attacker.leaseId) : undefined),
      'the attacker',
    );
    expect({
      read: field(log, 'read'),
      list: field(log, 'list'),
      signal: field(log, 'signal'),
      state: field(log, 'state'),
      log: field(log, 'log'),
    }).toEqual({
      read: 'no',
      list: 'no',
      signal: 'no',
      state: 'no',
      log: 'no',
    });
    expect(field(log, 'uid')).not.toBe(String(statSync(home).uid));
    expect(field(log, 'uid')).not.toBe('0');
    expect(alive(Number(pid))).toBe(true);
  });
});

describe('the agent command and its key', () => {
  it('reads the key from --key-file and refuses an unreadable one, naming the flag', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpumarket-key-'));
    const file = join(dir, 'key');
    writeFileSync(file, '');
    chmodSync(file, 0o600);
    expect(
      parseAgentArgs(
        ['--market', 'http://m', '--key-file', file, '--region', 'r', '--block', 'b', '--reserve-price', '1'],
        {},
      ),
    ).toMatch(/--key-file.*empty/);
    expect(
      parseAgentArgs(
        [
          '--market',
          'http://m',
          '--key-file',
          join(dir, 'none'),
          '--region',
          'r',
          '--block',
          'b',
          '--reserve-price',
          '1',
        ],
        {},
      ),
    ).toMatch(/--key-file.*ENOENT/);
  });
});
