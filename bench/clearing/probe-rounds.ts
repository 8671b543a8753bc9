import type { RoundSnapshot } from '../../src/core/market/types.js';
import { generateContested } from './generate-contested.js';
import { generateInstance } from './generate-instance.js';

/**
 * The six rounds the clearing probes study, named as docs/benchmarks.md names them: the first
 * shape's seeds 42, 7 and 1 and the contested shape's seeds 1-3, 1,000 x 250 unless sized.
 */
export function probeRounds(bids = 1000, nodes = 250): [string, RoundSnapshot][] {
  return [
    ['instance 42', generateInstance(bids, nodes, 42)],
    ['instance 7', generateInstance(bids, nodes, 7)],
    ['instance 1', generateInstance(bids, nodes, 1)],
    ['contested 1', generateContested(bids, nodes, 1)],
    ['contested 2', generateContested(bids, nodes, 2)],
    ['contested 3', generateContested(bids, nodes, 3)],
  ];
}
