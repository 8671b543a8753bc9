import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkloadRunner, type StartedWorkload } from './workload-runner.js';

const dir = () => mkdtempSync(join(tmpdir(), 'gpumarket-runner-'));
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

async function ended(runner: WorkloadRunner, workload: StartedWorkload) {
  for (let i = 0; i < 100; i += 1) {
    const check = runner.check(workload);
    if (check.ended) return check;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('workload did not end');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

describe('workload runner', () => {
  it('records the exit code of a workload, also for a runner that did not start it', async () => {
    const folder = dir();
    const workload = new WorkloadRunner(folder).start('lease-a', ['/bin/sh', '-c', 'exit 7'], env);
    expect(await ended(new WorkloadRunner(folder), workload)).toEqual({ ended: true, exitCode: 7 });
  });

  it("signals the workload's whole process group, its own children included", async () => {
    const folder = dir();
    const runner = new WorkloadRunner(folder);
    const childFile = join(folder, 'child.pid');
    const workload = runner.start('lease-b', ['/bin/sh', '-c', `sleep 60 & echo $! > ${childFile}; wait`], env);
    for (let i = 0; i < 100 && !readFileSafe(childFile); i += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const child = Number(readFileSafe(childFile));
    runner.signal(workload.pid, 'SIGTERM');
    expect(await ended(runner, workload)).toEqual({ ended: true, exitCode: 143 });
    for (let i = 0; i < 50 && alive(child); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(child)).toBe(false);
  });

  it('reports a workload killed together with its wrapper as ended by the signal', async () => {
    const runner = new WorkloadRunner(dir());
    const workload = runner.start('lease-c', ['sleep', '60'], env);
    runner.signal(workload.pid, 'SIGKILL');
    expect(await ended(runner, workload)).toEqual({ ended: true, signal: 'SIGKILL' });
  });
});

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
