import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { remainingGrace } from './kubernetes.adapter.js';
import { podStatus } from './pod-status.js';

const pending = (status: V1Pod['status']): V1Pod => ({
  metadata: { name: 'p' },
  status: { phase: 'Pending', ...status },
});

describe('pod status', () => {
  it.each([
    [
      'ErrImagePull',
      {
        containerStatuses: [
          {
            name: 'w',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ErrImagePull', message: 'not found' } },
          },
        ],
      },
    ],
    [
      'ImagePullBackOff',
      {
        containerStatuses: [
          {
            name: 'w',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ImagePullBackOff' } },
          },
        ],
      },
    ],
    [
      'Unschedulable',
      {
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.',
          },
        ],
      },
    ],
  ] as const)('says a pending pod waits on %s', (reason, status) => {
    expect(podStatus(pending(status as unknown as V1Pod['status']))).toMatchObject({
      state: 'pending',
      waitingReason: reason,
    });
  });

  it('names no reason for a pod the kubelet has not looked at yet', () => {
    expect(podStatus(pending({}))).toEqual({ state: 'pending', message: 'pending' });
  });

  it('counts the grace left from the deletion time the API server set (delete time + grace)', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    const pod: V1Pod = { metadata: { deletionTimestamp: new Date(now + 30_000), deletionGracePeriodSeconds: 45 } };
    expect(remainingGrace(pod, now)).toBe(30);
    expect(remainingGrace(pod, now + 60_000)).toBe(0);
    expect(remainingGrace({ metadata: {} }, now)).toBe(Infinity);
  });
});
