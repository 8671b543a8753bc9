import { describe, expect, it } from 'vitest';
import { outcomeOfReport, type LiveLeaseState, type WorkloadReport } from './workload-report.js';

const running = { state: 'running' as LiveLeaseState, noticedRecently: false };
const wonBack = { state: 'running' as LiveLeaseState, noticedRecently: true };

describe('what a workload report does to its lease', () => {
  it.each([
    [
      'an allocated lease whose workload runs starts',
      { state: 'allocated', noticedRecently: false },
      { state: 'running' },
      { kind: 'started' },
    ],
    ['a running lease reported running: nothing new', running, { state: 'running' }, { kind: 'none' }],
    ['pending and unknown change nothing', running, { state: 'pending' }, { kind: 'none' }],
    [
      'a workload that ended by itself completes the lease',
      running,
      { state: 'completed', exitCode: 0 },
      { kind: 'completed' },
    ],
    [
      'one that finished during its notice completes too',
      { state: 'preempting', noticedRecently: true },
      { state: 'completed', exitCode: 0 },
      { kind: 'completed' },
    ],
    [
      "a non-zero exit is the tenant's failure: the bid fails",
      running,
      { state: 'failed', exitCode: 3 },
      { kind: 'failed', reopenBid: false, reason: 'workload_failed' },
    ],
    [
      "a vanished workload is the platform's failure: the bid reopens",
      running,
      { state: 'failed' },
      { kind: 'failed', reopenBid: true, reason: 'platform_failed' },
    ],
    [
      'an adapter may name the platform despite an exit code (node failure)',
      running,
      { state: 'failed', exitCode: 0, cause: 'platform' },
      { kind: 'failed', reopenBid: true, reason: 'platform_failed' },
    ],
    [
      'an allocated lease whose workload vanished reopens its bid too',
      { state: 'allocated', noticedRecently: false },
      { state: 'failed', cause: 'platform' },
      { kind: 'failed', reopenBid: true, reason: 'platform_failed' },
    ],
    [
      'in its notice, a workload that vanished ends the notice there (preempted, not failed)',
      { state: 'preempting', noticedRecently: true },
      { state: 'failed', cause: 'platform' },
      { kind: 'notice_stopped' },
    ],
    [
      'in its notice, a non-zero exit on SIGTERM ends the notice there',
      { state: 'preempting', noticedRecently: true },
      { state: 'failed', exitCode: 143 },
      { kind: 'notice_stopped' },
    ],
    [
      'in its notice, stopped ends the notice there (billing stops with the workload)',
      { state: 'preempting', noticedRecently: true },
      { state: 'stopped' },
      { kind: 'notice_stopped' },
    ],
    [
      'in its notice, running changes nothing',
      { state: 'preempting', noticedRecently: true },
      { state: 'running' },
      { kind: 'none' },
    ],
    [
      'a running lease whose workload someone other than the market stopped fails, and its bid reopens',
      running,
      { state: 'stopped' },
      { kind: 'failed', reopenBid: true, reason: 'workload_stopped' },
    ],
    [
      "a lease that won its place back after its notice's SIGTERM, whose workload then stopped, was preempted",
      wonBack,
      { state: 'stopped' },
      { kind: 'preempted' },
    ],
    [
      'so was one whose workload exited non-zero on that SIGTERM',
      wonBack,
      { state: 'failed', exitCode: 143 },
      { kind: 'preempted' },
    ],
    [
      "won back long ago (its notice's grace is over), a non-zero exit is the tenant's failure again",
      running,
      { state: 'failed', exitCode: 1 },
      { kind: 'failed', reopenBid: false, reason: 'workload_failed' },
    ],
  ] as const)('%s', (_name, lease, report, expected) => {
    expect(outcomeOfReport(lease, report as WorkloadReport)).toEqual(expected);
  });
});
