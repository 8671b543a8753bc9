import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  groupIsOurs,
  listProcesses,
  leaseProcesses,
  readStat,
  type LeaseTracking,
  type ProcessInfo,
} from './process-tree.js';

/**
 * Starts workloads as detached process groups that outlive the agent, so that a restart of the
 * agent does not kill tenants' jobs. Each workload runs under a tiny sh wrapper that writes the
 * exit code to a file: after a restart the agent is no longer the parent and could not learn it
 * otherwise.
 */
export interface StartedWorkload {
  readonly pid: number;
  /** Start time of the wrapper (from /proc; undefined without /proc). */
  readonly pidStart?: string;
  readonly exitFile: string;
  readonly logFile: string;
}

export type WorkloadCheck =
  { readonly ended: false } | { readonly ended: true; readonly exitCode?: number; readonly signal?: string };

export interface StartOptions {
  /** Run the workload (not the wrapper) as this user, through setpriv at this path. */
  readonly user?: { readonly uid: number; readonly gid: number; readonly setpriv: string };
  /** Working directory of the workload (its scratch directory). */
  readonly cwd?: string;
  /** cgroup.procs of the lease's cgroup: the wrapper moves itself there before starting anything. */
  readonly cgroupProcs?: string;
}

// `trap : TERM` keeps the wrapper alive through the group SIGTERM so it can record how the
// workload ended; a caught trap is reset to the default in the workload itself. The wrapper stays
// the agent's user (the exit file lives in the agent's private directory, out of the tenant's
// reach) and drops to the workload user only for the workload, with no new privileges.
// $0 is the exit file, $1 the cgroup.procs file or "-".
const WRAPPER =
  'trap : TERM INT HUP; if [ "$1" != - ]; then echo $$ > "$1" || exit 125; fi; shift; ' +
  '"$@"; code=$?; printf "%s" "$code" > "$0.tmp" && mv "$0.tmp" "$0"; exit "$code"';

export class WorkloadRunner {
  private readonly children = new Map<
    number,
    { child: ChildProcess; exit?: { code: number | null; signal: string | null } }
  >();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  start(
    name: string,
    command: readonly string[],
    env: Record<string, string>,
    options: StartOptions = {},
  ): StartedWorkload {
    const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
    const exitFile = join(this.dir, `${safe}.exit`);
    const logFile = join(this.dir, `${safe}.log`);
    const log = openSync(logFile, 'a');
    try {
      const drop = options.user
        ? [
            options.user.setpriv,
            `--reuid=${options.user.uid}`,
            `--regid=${options.user.gid}`,
            '--clear-groups',
            '--no-new-privs',
            '--',
          ]
        : [];
      const child = spawn('/bin/sh', ['-c', WRAPPER, exitFile, options.cgroupProcs ?? '-', ...drop, ...command], {
        env,
        cwd: options.cwd,
        // Its own session and process group: a group signal reaches the workload's children.
        detached: true,
        stdio: ['ignore', log, log],
      });
      if (child.pid === undefined) throw new Error(`could not start ${command[0]}`);
      const entry: { child: ChildProcess; exit?: { code: number | null; signal: string | null } } = { child };
      child.on('exit', (code, signal) => {
        entry.exit = { code, signal };
      });
      child.on('error', () => undefined);
      child.unref();
      this.children.set(child.pid, entry);
      return { pid: child.pid, pidStart: readStat(child.pid)?.start, exitFile, logFile };
    } finally {
      closeSync(log);
    }
  }

  /** Whether the workload has ended and how; works for workloads started by an earlier agent too. */
  check(workload: { pid: number; exitFile: string }): WorkloadCheck {
    const recorded = readExitFile(workload.exitFile);
    if (recorded !== undefined) return { ended: true, exitCode: recorded };
    const own = this.children.get(workload.pid);
    if (own) {
      if (!own.exit) return { ended: false };
      // The wrapper was killed (SIGKILL to the group) before it could write the exit file.
      return own.exit.signal
        ? { ended: true, signal: own.exit.signal }
        : { ended: true, exitCode: own.exit.code ?? undefined };
    }
    if (isOurProcess(workload.pid, workload.exitFile)) return { ended: false };
    // Not alive and no exit file: killed with the wrapper, or the machine rebooted.
    return readExitFile(workload.exitFile) !== undefined
      ? { ended: true, exitCode: readExitFile(workload.exitFile) }
      : { ended: true, signal: 'unknown' };
  }

  /** Signals the workload's whole process group (its own children included). */
  signal(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
    try {
      process.kill(-pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /**
   * Signals every process of the lease: its group, and every process that left the group
   * (setsid, double fork) but is still found by ancestry, marker variable or cgroup.
   * Returns the processes it found alive.
   */
  signalLease(
    tracking: LeaseTracking,
    signal: 'SIGTERM' | 'SIGKILL',
    processes: readonly ProcessInfo[] = listProcesses(),
  ): ProcessInfo[] {
    if (groupIsOurs(tracking, processes)) this.signal(tracking.pid, signal);
    const found = leaseProcesses(tracking, processes);
    // The group signal reached the group's members already; a second SIGTERM would be a second notice.
    for (const info of found.filter((member) => member.pgid !== tracking.pid)) {
      try {
        process.kill(info.pid, signal);
      } catch {
        // Gone meanwhile.
      }
    }
    return found;
  }
}

function readExitFile(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8').trim();
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/**
 * Alive and still our wrapper (its command line names the exit file), not a reused pid. A zombie
 * counts as ended: once the agent that started it is gone, a PID 1 that does not reap (common in
 * containers) leaves it in the process table forever.
 */
function isOurProcess(pid: number, exitFile: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(exitFile);
  } catch {
    // No /proc (not Linux): trust the pid.
    return true;
  }
}
