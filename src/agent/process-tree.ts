import { readdirSync, readFileSync } from 'node:fs';

/**
 * What /proc says about the processes of a lease. A workload can leave its process group
 * (`setsid`), and then its parent dies and it is re-parented to PID 1: neither the group nor the
 * parent chain finds it any more. So a lease's processes are the union of its group, the
 * descendants of every process seen in it before (tracked while they were still attached), the
 * processes that carry the lease's marker variable in their environment, and its cgroup.
 */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** Clock ticks since boot at which it started: with the pid, it tells a reused pid apart. */
  readonly start: string;
  readonly zombie: boolean;
}

/** Every process of the machine, from /proc/<pid>/stat; empty where there is no /proc. */
export function listProcesses(): ProcessInfo[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const processes: ProcessInfo[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const info = readStat(Number(name));
    if (info) processes.push(info);
  }
  return processes;
}

export function readStat(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain ") ", so split after the last one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      zombie: fields[0] === 'Z' || fields[0] === 'X',
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      start: fields[19] ?? '',
    };
  } catch {
    return undefined;
  }
}

/** The value of one variable in a process's environment, when we may read it (root, or same user). */
export function environValue(pid: number, name: string): string | undefined {
  return environValues(pid, [name])[0];
}

/** Values of several variables from one read of /proc/<pid>/environ (undefined where unreadable). */
export function environValues(pid: number, names: readonly string[]): (string | undefined)[] {
  let entries: string[];
  try {
    entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return names.map(() => undefined);
  }
  return names.map((name) => entries.find((item) => item.startsWith(`${name}=`))?.slice(name.length + 1));
}

/**
 * The marker: a lease's processes carry its id and the agent's node name (two agents on one host may run parts of one
 * lease).
 */
export const LEASE_MARKER = 'GPUMARKET_LEASE_ID';
export const NODE_MARKER = 'GPUMARKET_NODE';

export interface LeaseTracking {
  readonly leaseId: string;
  /** The agent's node name; marker matches need it too when given. */
  readonly node?: string;
  /** The wrapper's pid, which is also the lease's process group id. */
  readonly pid: number;
  /** The wrapper's start time, when known: a live process with that pid and another start is not ours. */
  readonly pidStart?: string;
  /** `pid:start` of every process ever seen in the lease (kept across scans). */
  readonly known: Set<string>;
  /** cgroup.procs of the lease's cgroup, when it has one. */
  readonly cgroupProcs?: string;
}

/**
 * The live processes of a lease in `processes` (zombies excluded: they hold nothing and cannot be
 * killed), and adds them to `tracking.known` so that a later escape from the group is still seen.
 */
export function leaseProcesses(
  tracking: LeaseTracking,
  processes: readonly ProcessInfo[],
  options: { readonly byMarker?: boolean; readonly self?: number } = {},
): ProcessInfo[] {
  const self = options.self ?? process.pid;
  const byPid = new Map(processes.map((info) => [info.pid, info]));
  const members = new Map<number, ProcessInfo>();
  const add = (info: ProcessInfo | undefined) => {
    if (info && !info.zombie && info.pid !== self) members.set(info.pid, info);
  };
  const group = groupIsOurs(tracking, processes);
  for (const info of processes) {
    if ((group && info.pgid === tracking.pid) || tracking.known.has(`${info.pid}:${info.start}`)) add(info);
  }
  for (const pid of cgroupMembers(tracking.cgroupProcs)) add(byPid.get(pid));
  // Reading every process's environment is the expensive part: done when stopping, not on every tick.
  if (options.byMarker !== false) {
    for (const info of processes) {
      if (members.has(info.pid) || info.zombie) continue;
      const [lease, node] = environValues(info.pid, [LEASE_MARKER, NODE_MARKER]);
      if (lease === tracking.leaseId && (tracking.node === undefined || node === tracking.node)) add(info);
    }
  }
  // Descendants of members, however far they moved from the group (parents that still live).
  let grew = true;
  while (grew) {
    grew = false;
    for (const info of processes) {
      if (!members.has(info.pid) && members.has(info.ppid) && !info.zombie && info.pid !== self) {
        members.set(info.pid, info);
        grew = true;
      }
    }
  }
  for (const info of members.values()) tracking.known.add(`${info.pid}:${info.start}`);
  return [...members.values()];
}

/**
 * Whether processes in group `tracking.pid` are the lease's. The kernel does not reuse a number
 * while a group of that id has members, so the group is ours unless the number now belongs to a
 * different process (same pid, other start time): ours died out entirely and it was reused.
 */
export function groupIsOurs(tracking: LeaseTracking, processes: readonly ProcessInfo[]): boolean {
  if (!tracking.pidStart) return true;
  const holder = processes.find((info) => info.pid === tracking.pid);
  return !holder || holder.start === tracking.pidStart;
}

function cgroupMembers(procsFile: string | undefined): number[] {
  if (!procsFile) return [];
  try {
    return readFileSync(procsFile, 'utf8')
      .split('\n')
      .filter((line) => /^\d+$/.test(line))
      .map(Number);
  } catch {
    return [];
  }
}
