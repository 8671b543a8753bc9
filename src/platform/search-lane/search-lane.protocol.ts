import type { LaneAnswer } from '../../core/clearing/search-lane.js';
import type { RelaxedSolution } from '../../core/clearing/upper-bound.js';

/** Messages between SearchLaneThread and its thread (search-lane.worker.ts). */
export type LaneMessage =
  | {
      readonly kind: 'open';
      readonly round: number;
      /** serializeSnapshot's form: Money does not survive structured cloning. */
      readonly snapshot: object;
      /** An Int32Array's buffer: set to 1, the round's search stops at its next look at the clock. */
      readonly stop: SharedArrayBuffer;
    }
  | {
      readonly kind: 'search';
      readonly round: number;
      readonly relaxed: RelaxedSolution;
      /** On Date.now, which every thread of the process shares. */
      readonly deadline: number;
    }
  | { readonly kind: 'close'; readonly round: number };

export interface LaneReply {
  readonly round: number;
  readonly answer: LaneAnswer | null;
  /** Why there is no answer, when something failed (a bad snapshot, a bug): for the log. */
  readonly error?: string;
}
