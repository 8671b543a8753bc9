import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A cgroup v2 per lease, where the agent may create one: every process the workload starts stays
 * in it whatever it does with sessions and process groups, and `cgroup.kill` ends them all at once.
 * Where cgroup v2 is not mounted or not writable, the process runtime falls back to /proc tracking.
 */
export class LeaseCgroups {
  private constructor(private readonly base: string) {}

  /** The agent's own cgroup v2 directory, if a child can be created in it. */
  static detect(): LeaseCgroups | undefined {
    try {
      const mount = readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .map((line) => line.split(' '))
        .find((fields) => fields[2] === 'cgroup2')?.[1];
      const own = readFileSync('/proc/self/cgroup', 'utf8')
        .split('\n')
        .find((line) => line.startsWith('0::'))
        ?.slice(3);
      if (!mount || own === undefined) return undefined;
      const base = join(mount, own);
      const probe = join(base, `gpumarket-probe-${process.pid}`);
      mkdirSync(probe);
      rmdirSync(probe);
      return new LeaseCgroups(base);
    } catch {
      return undefined;
    }
  }

  /** Creates the lease's cgroup and returns its cgroup.procs file (the wrapper writes its pid there). */
  create(leaseKey: string): string {
    const dir = join(this.base, `gpumarket-${leaseKey}`);
    mkdirSync(dir, { recursive: true });
    return join(dir, 'cgroup.procs');
  }
}

/** SIGKILLs every process in the cgroup (cgroup.kill where the kernel has it, 5.14+). */
export function killCgroup(procsFile: string): void {
  const dir = procsFile.slice(0, -'/cgroup.procs'.length);
  const kill = join(dir, 'cgroup.kill');
  try {
    if (existsSync(kill)) writeFileSync(kill, '1');
  } catch {
    // The per-pid kill of the caller covers it.
  }
}

/** Removes an empty lease cgroup; false while processes remain in it. */
export function removeCgroup(procsFile: string): boolean {
  const dir = procsFile.slice(0, -'/cgroup.procs'.length);
  if (!existsSync(dir)) return true;
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}
