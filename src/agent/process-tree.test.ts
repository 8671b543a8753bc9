import { describe, expect, it } from 'vitest';
import { leaseProcesses, type LeaseTracking, type ProcessInfo } from './process-tree.js';

// Pids above the kernel's pid_max: no /proc entry exists for them, so only the listing given counts.
const WRAPPER = 9_000_001;
const proc = (pid: number, ppid: number, pgid: number, start = `s${pid}`): ProcessInfo => ({
  pid,
  ppid,
  pgid,
  start,
  zombie: false,
});
const pids = (found: ProcessInfo[]) => found.map((info) => info.pid).sort((a, b) => a - b);

describe('finding the processes of a lease', () => {
  it('keeps a process that left the group (setsid) and lost its parent, by what it saw before', () => {
    const tracking: LeaseTracking = { leaseId: 'lease-1', pid: WRAPPER, known: new Set() };
    const unrelated = proc(9_000_100, 1, 9_000_100);
    const first = [
      proc(WRAPPER, 1, WRAPPER),
      proc(9_000_002, WRAPPER, WRAPPER),
      proc(9_000_003, 9_000_002, 9_000_003),
      unrelated,
    ];
    expect(pids(leaseProcesses(tracking, first, { byMarker: false }))).toEqual([WRAPPER, 9_000_002, 9_000_003]);

    // The group is gone; the escaped shell was re-parented to PID 1 and started a child since.
    const later = [proc(9_000_003, 1, 9_000_003), proc(9_000_004, 9_000_003, 9_000_003), unrelated];
    expect(pids(leaseProcesses(tracking, later, { byMarker: false }))).toEqual([9_000_003, 9_000_004]);
  });

  it('does not take a reused pid for a process it saw, nor zombies', () => {
    const tracking: LeaseTracking = { leaseId: 'lease-2', pid: WRAPPER, known: new Set([`9000003:old`]) };
    const reused = proc(9_000_003, 1, 9_000_003, 'new');
    const zombie = { ...proc(9_000_005, WRAPPER, WRAPPER), zombie: true };
    expect(leaseProcesses(tracking, [reused, zombie], { byMarker: false })).toEqual([]);
  });

  it('leaves alone a group whose number was reused after the lease died out', () => {
    const tracking: LeaseTracking = { leaseId: 'lease-3', pid: WRAPPER, pidStart: 'ours', known: new Set() };
    const stranger = [proc(WRAPPER, 1, WRAPPER, 'theirs'), proc(9_000_006, WRAPPER, WRAPPER)];
    expect(leaseProcesses(tracking, stranger, { byMarker: false })).toEqual([]);
    // While the wrapper with our start time lives, its group is ours.
    const ours = [proc(WRAPPER, 1, WRAPPER, 'ours'), proc(9_000_007, 1, WRAPPER)];
    expect(pids(leaseProcesses(tracking, ours, { byMarker: false }))).toEqual([WRAPPER, 9_000_007]);
  });
});
