import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Observation, Behaviour } from '../contract/adapter-contract.js';

/** Absolute path of the probe workload script, runnable with `node` on any local fleet. */
export const PROBE_SCRIPT = fileURLToPath(new URL('./probe-workload.mjs', import.meta.url));

/** argv that runs the probe with this behaviour, logging to `logFile`. */
export function probeCommand(logFile: string, behaviour: Behaviour): string[] {
  return [process.execPath, PROBE_SCRIPT, logFile, JSON.stringify(behaviour)];
}

interface ProbeEntry {
  event: 'start' | 'signal' | 'exit';
  pid?: number;
  node?: string;
  gpus?: string;
  signal?: string;
  marker?: string;
}

/** Alive and not a zombie (an orphan whose parent died is not reaped by every PID 1). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** What the probe processes of one lease recorded, read from their shared log file. */
export function readProbeLog(logFile: string): Observation {
  if (!existsSync(logFile)) return { starts: 0, placements: [], signals: [] };
  const entries = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ProbeEntry);
  const starts = entries.filter((entry) => entry.event === 'start');
  return {
    starts: starts.length,
    placements: starts.map((entry) => ({
      externalId: entry.node ?? '',
      gpuIndices: (entry.gpus ?? '')
        .split(',')
        .filter((part) => part !== '')
        .map(Number),
    })),
    signals: entries.filter((entry) => entry.event === 'signal').map((entry) => entry.signal ?? ''),
    alive: starts.some((entry) => entry.pid !== undefined && isAlive(entry.pid)),
    markers: starts.map((entry) => entry.marker),
  };
}
