import { parentPort } from 'node:worker_threads';
import { buildRoundProblem, type RoundProblem } from '../../core/clearing/round-problem.js';
import { searchLane } from '../../core/clearing/search-lane.js';
import { parseSnapshot } from '../../core/clearing/snapshot-file.js';
import type { LaneMessage, LaneReply } from './search-lane.protocol.js';

/**
 * The search lane's thread: builds each round's problem when the round opens, searches it when
 * the LP's solution comes. One round at a time: a new one replaces the last.
 */
let current: { round: number; problem: RoundProblem | null; stop: Int32Array; error?: string } | null = null;

parentPort?.on('message', (message: LaneMessage) => {
  if (message.kind === 'open') {
    const stop = new Int32Array(message.stop);
    try {
      current = { round: message.round, problem: buildRoundProblem(parseSnapshot(message.snapshot)), stop };
    } catch (error) {
      current = { round: message.round, problem: null, stop, error: String(error) };
    }
  } else if (message.kind === 'search') {
    const round = current?.round === message.round ? current : null;
    let reply: LaneReply = {
      round: message.round,
      answer: null,
      error: round?.error ?? (round ? undefined : 'no such round'),
    };
    if (round?.problem) {
      const { stop } = round;
      // Asked to stop, the search sees its deadline passed at its next look at the clock.
      const clock = () => (Atomics.load(stop, 0) === 1 ? Infinity : Date.now());
      try {
        reply = {
          round: message.round,
          answer: searchLane(round.problem, message.relaxed, { deadline: message.deadline, clock }),
        };
      } catch (error) {
        reply = { round: message.round, answer: null, error: String(error) };
      }
    }
    parentPort!.postMessage(reply);
  } else if (current?.round === message.round) current = null;
});
