import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * The unprivileged users workloads run as under the process runtime. One user per GPU slot (the
 * lowest GPU index of a lease), `<base>-g<slot>`: two leases on a node never share a GPU, so they
 * never share a user either, and one tenant can neither read another's scratch directory nor
 * signal its processes. Users are looked up, and created (system users without a home or a
 * login shell) when missing and the agent may.
 */
export interface WorkloadUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

const CAP_SETGID = 6n;
const CAP_SETUID = 7n;

/** Whether this process may change the uid and gid of its children (root, or CAP_SETUID+CAP_SETGID). */
export function canSwitchUsers(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    const line = readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('CapEff:'));
    const caps = BigInt(`0x${line?.split(/\s+/)[1] ?? '0'}`);
    return ((caps >> CAP_SETUID) & 1n) === 1n && ((caps >> CAP_SETGID) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** setpriv (util-linux) drops to the workload user in the wrapper, after the wrapper joined the cgroup. */
export function findSetpriv(): string | undefined {
  return ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv'].find((path) => existsSync(path));
}

export class WorkloadUsers {
  private readonly cache = new Map<number, WorkloadUser>();

  constructor(readonly base: string) {
    if (!/^[a-z_][a-z0-9_-]{0,20}$/.test(base))
      throw new Error(`workload user "${base}" is not a valid user name prefix`);
  }

  forSlot(slot: number): WorkloadUser {
    const cached = this.cache.get(slot);
    if (cached) return cached;
    const name = `${this.base}-g${slot}`;
    let user = lookUp(name);
    if (!user) {
      try {
        execFileSync(
          'useradd',
          [
            '--system',
            '--user-group',
            '--no-create-home',
            '--home-dir',
            '/nonexistent',
            '--shell',
            '/usr/sbin/nologin',
            name,
          ],
          {
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
      } catch (error) {
        // Another agent (or test) may have created it at the same moment: look again before failing.
        if (!lookUp(name)) throw new Error(`could not create workload user ${name}: ${(error as Error).message}`);
      }
      user = lookUp(name);
    }
    if (!user) throw new Error(`workload user ${name} does not exist and could not be created`);
    if (user.uid === 0 || user.gid === 0)
      throw new Error(`workload user ${name} is root; refusing to run workloads as root`);
    this.cache.set(slot, user);
    return user;
  }
}

function lookUp(name: string): WorkloadUser | undefined {
  try {
    const line = execFileSync('getent', ['passwd', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const [, , uid, gid] = line.split(':');
    if (!uid || !gid) return undefined;
    return { name, uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}
