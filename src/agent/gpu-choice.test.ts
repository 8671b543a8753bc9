import { describe, expect, it } from 'vitest';
import { chooseGpus } from './gpu-choice.js';

const eight = [0, 1, 2, 3, 4, 5, 6, 7];

describe('choosing GPUs for a workload', () => {
  it('never hands out a busy GPU', () => {
    expect(chooseGpus(eight, [eight], new Set([0, 1, 2]), 4)).toEqual({ kind: 'ok', gpus: [3, 4, 5, 6] });
  });

  it('keeps a gang inside the NVLink island that fits it most tightly', () => {
    const islands = [
      [0, 1, 2, 3],
      [4, 5],
      [6, 7],
    ];
    expect(chooseGpus(eight, islands, new Set([6]), 2)).toEqual({ kind: 'ok', gpus: [4, 5] });
    expect(chooseGpus(eight, islands, new Set(), 3)).toEqual({ kind: 'ok', gpus: [0, 1, 2] });
  });

  it('spans islands when no single island has room', () => {
    expect(chooseGpus([0, 1, 2, 3], [[0], [1], [2], [3]], new Set(), 2)).toEqual({ kind: 'ok', gpus: [0, 1] });
  });

  it('refuses more GPUs than the node has as permanent, and more than are free as retryable', () => {
    expect(chooseGpus(eight, [eight], new Set(), 9).kind).toBe('permanent');
    expect(chooseGpus(eight, [eight], new Set([0, 1, 2, 3, 4]), 4).kind).toBe('retryable');
  });
});
