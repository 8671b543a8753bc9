import { parentPort, workerData } from 'node:worker_threads';
import { compileHighsFor, HighsBackend, warmUpHighs } from '../../core/solvers/highs-backend.js';
import { SOLVER_READY } from './solver-pool.protocol.js';
import type { SolvedMessage, SolveMessage, SolverThreadData } from './solver-pool.protocol.js';

/** One thread of the SolverPool: compiles HiGHS once, then solves the models it is sent. */
compileHighsFor((workerData as SolverThreadData | undefined)?.compilation ?? 'optimised');
const backend = new HighsBackend();
const ready = warmUpHighs()
  .catch(() => undefined)
  .then(() => parentPort?.postMessage(SOLVER_READY));

parentPort?.on('message', (message: SolveMessage) => {
  void (async () => {
    await ready;
    let reply: SolvedMessage;
    try {
      reply = { id: message.id, outcome: await backend.solve(message.request) };
    } catch (error) {
      reply = { id: message.id, error: error instanceof Error ? error.message : String(error) };
    }
    const transfer = [reply.outcome?.colValue?.buffer, reply.outcome?.rowDual?.buffer].filter(
      (b): b is ArrayBuffer => b instanceof ArrayBuffer,
    );
    parentPort!.postMessage(reply, transfer);
  })();
});
