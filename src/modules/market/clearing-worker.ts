import { parentPort, workerData } from 'node:worker_threads';
import { clearRound } from '../../core/clearing/clear-round.js';
import { parseSnapshot, serializeResult } from '../../core/clearing/snapshot-file.js';
import { HighsBackend, warmUpHighs } from '../../core/solvers/highs-backend.js';
import { SearchLaneThread } from '../../platform/search-lane/search-lane.js';
import { SolverPool } from '../../platform/solver-pool/solver-pool.js';
import { READY } from './clearing-protocol.js';
import type { ClearReply, ClearRequest } from './clearing-protocol.js';

/**
 * The clearing worker thread: clears the rounds ClearingRunner sends it, so that a long round
 * neither blocks the service's event loop nor outlives its budget (the runner can terminate a
 * thread, and HiGHS' own time limit is soft). HiGHS is compiled once, when the thread starts.
 * The MIP phase's parts are solved here and on a pool of threads of this thread's own
 * (`solverThreads`, from the runner), which end with it; so does the search lane's thread
 * (core/clearing/search-lane.ts), there unless `solverThreads` is 0.
 */
const { solverThreads } = (workerData ?? {}) as { solverThreads?: number };
const pool = solverThreads === 0 ? null : new SolverPool({ threads: solverThreads });
const lane = solverThreads === 0 || !SearchLaneThread.available() ? null : new SearchLaneThread();
const backend = new HighsBackend();
// The pool's threads compile on their own; until they are ready their parts solve here.
const ready = warmUpHighs()
  .catch(() => undefined)
  .then(() => parentPort?.postMessage(READY));

// The thread's first round runs on cold code (ClearOptions.cold).
let roundsCleared = 0;

parentPort?.on('message', (request: ClearRequest) => {
  void (async () => {
    await ready;
    try {
      const result = await clearRound(parseSnapshot(request.snapshot), {
        ...request.options,
        backend,
        partsSolver: pool ?? undefined,
        lane: lane ?? undefined,
        cold: roundsCleared++ === 0,
      });
      parentPort!.postMessage({ id: request.id, result: serializeResult(result) } satisfies ClearReply);
    } catch (error) {
      parentPort!.postMessage({
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      } satisfies ClearReply);
    }
  })();
});
