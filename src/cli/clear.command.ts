import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { checkResult } from '../core/clearing/check-result.js';
import { clearRound } from '../core/clearing/clear-round.js';
import type { ClearOptions } from '../core/clearing/clear-round.js';
import { SnapshotFormatError, parseSnapshot, serializeResult } from '../core/clearing/snapshot-file.js';
import { compileHighsFor, highsModule } from '../core/solvers/highs-backend.js';
import { SOLVER_NAMES, solverFor, type SolverName } from '../core/solvers/solver-for.js';
import { defaultSolverThreads, SolverPool } from '../platform/solver-pool/solver-pool.js';

/**
 * `gpumarket clear --input snapshot.json --output result.json [--time-limit-ms N]`: the offline
 * clearing contract of docs/round-files.md, on the same clearRound the service runs.
 * `--deterministic` makes a replay give the same result every time (docs/clearing.md).
 * `--threads N`: worker threads that solve the MIP phase's parts beside this one (default: the
 * host's cores less one, or none below POOL_MIN_MS; 0 for none).
 * Exit codes: 0 cleared, 1 the result failed its own validity check, 2 bad usage or snapshot.
 */
export const usage =
  'usage: gpumarket clear --input snapshot.json --output result.json [--time-limit-ms N] [--solver auto|highs|lp-solver|greedy] [--seed N] [--deterministic] [--threads N]\n';

/**
 * Below this time limit the MIP phase, the only one that uses the pool's threads, rarely runs
 * (clear-round.ts: it needs MIN_MIP_MS per lane after the search's share; at 1 s never), so a
 * thread would only compile HiGHS beside the round and take a core from it. Measured on the
 * 1,000 x 250 rounds at 1 s on a 2-core host (7 Dec, 32 fresh runs each, interleaved, load
 * 2-3): with one thread 840-1,159 ms of solve time, 8 runs past the budget; with none
 * 841-1,037 ms, 4 past, at the same welfare.
 */
const POOL_MIN_MS = 2_000;

/** Pool threads when `--threads` is not given: none for a round too short for the MIP phase. */
export function defaultThreads(timeLimitMs: number | undefined): number {
  return timeLimitMs !== undefined && timeLimitMs < POOL_MIN_MS ? 0 : defaultSolverThreads();
}

export async function run(argv: string[]): Promise<number> {
  // One round under a short limit: compile HiGHS for a fast start, and start now, while the
  // snapshot is read and parsed (V8 compiles WebAssembly on background threads).
  compileHighsFor('fast-start');
  void highsModule().catch(() => undefined);
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        input: { type: 'string' },
        output: { type: 'string' },
        'time-limit-ms': { type: 'string' },
        solver: { type: 'string' },
        seed: { type: 'string' },
        deterministic: { type: 'boolean' },
        threads: { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`gpumarket clear: ${(error as Error).message}\n`);
    return 2;
  }
  if (!values.input || !values.output) {
    process.stderr.write(usage);
    return 2;
  }
  const timeLimitMs = values['time-limit-ms'] === undefined ? undefined : Number(values['time-limit-ms']);
  if (timeLimitMs !== undefined && (!Number.isInteger(timeLimitMs) || timeLimitMs <= 0)) {
    process.stderr.write('gpumarket clear: --time-limit-ms must be a positive integer\n');
    return 2;
  }
  if (values.solver !== undefined && !SOLVER_NAMES.includes(values.solver as SolverName)) {
    process.stderr.write(`gpumarket clear: --solver must be one of ${SOLVER_NAMES.join(', ')}\n`);
    return 2;
  }

  const threads = values.threads === undefined ? defaultThreads(timeLimitMs) : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0 || threads > 256) {
    process.stderr.write('gpumarket clear: --threads must be an integer from 0 to 256\n');
    return 2;
  }
  // The threads compile HiGHS while the snapshot is read; only the MIP phase uses them.
  const usesParts = !values.deterministic && (values.solver ?? 'auto') !== 'greedy' && values.solver !== 'lp-solver';
  const pool = usesParts && threads > 0 ? new SolverPool({ threads, compilation: 'fast-start' }) : null;
  try {
    return await clearFile(values.input, values.output, {
      timeLimitMs,
      backend: solverFor(values.solver as SolverName | undefined),
      seed: values.seed === undefined ? undefined : Number(values.seed),
      deterministic: values.deterministic ?? false,
      partsSolver: pool ?? undefined,
      // One round per process: its code is cold.
      cold: true,
    });
  } finally {
    await pool?.close();
  }
}

async function clearFile(input: string, output: string, options: ClearOptions): Promise<number> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(input, 'utf8'));
  } catch (error) {
    process.stderr.write(`gpumarket clear: cannot read ${input}: ${(error as Error).message}\n`);
    return 2;
  }
  let snapshot;
  try {
    snapshot = parseSnapshot(json);
  } catch (error) {
    if (!(error instanceof SnapshotFormatError)) throw error;
    process.stderr.write(`gpumarket clear: invalid snapshot: ${error.message}\n`);
    return 2;
  }

  const result = await clearRound(snapshot, options);
  await writeFile(output, `${JSON.stringify(serializeResult(result), null, 2)}\n`);
  const violations = checkResult(snapshot, result);
  if (violations.length > 0) {
    process.stderr.write(`gpumarket clear: the result breaks its validity rules:\n${violations.join('\n')}\n`);
    return 1;
  }
  process.stderr.write(
    `cleared ${snapshot.roundId}: ${result.status}, welfare ${result.welfare.toFixed(4)}, ${result.placements.length} placements, ${result.stats.solveMs} ms\n`,
  );
  return 0;
}
