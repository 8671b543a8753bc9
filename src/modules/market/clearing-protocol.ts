import type { ClearOptions } from '../../core/clearing/clear-round.js';
import type { serializeResult } from '../../core/clearing/snapshot-file.js';

/** Messages between ClearingRunner and its worker thread (clearing-worker.ts). */
export interface ClearRequest {
  readonly id: number;
  /** The snapshot as a round file (serializeSnapshot). */
  readonly snapshot: unknown;
  readonly options: Pick<ClearOptions, 'timeLimitMs' | 'seed' | 'deterministic'>;
}

export type ClearReply =
  | { readonly id: number; readonly result: ReturnType<typeof serializeResult> }
  | { readonly id: number; readonly error: string };

/** Sent once by the thread, when HiGHS is compiled and it takes rounds. */
export const READY = 'ready';
