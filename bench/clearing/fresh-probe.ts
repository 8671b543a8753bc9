import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `node dist/bench/bench/clearing/fresh-probe.js DIR REPS [BASE_CLI]` after `npm run build` and
 * `write-snapshots.js DIR 14,18`: each snapshot in DIR cleared REPS times by `gpumarket clear
 * --time-limit-ms 1000`, every run its own process (docs/benchmarks.md, "A fresh process").
 * Prints welfare over the round's proven optimum and the solve time of each run; with BASE_CLI
 * (another checkout's dist/cli/main.js) that build runs the same rounds, run for run, first;
 * BASE_ARGS (one argument, split on spaces) go to the base's command line only: with BASE_CLI
 * this checkout's own dist/cli/main.js and BASE_ARGS "--threads 0", that compares the engine
 * without threads (no search lane) against its default.
 */
const OPTIMA: Record<string, number> = {
  'instance-42': 2854.67,
  'instance-7': 2534.75,
  'instance-1': 2243.41,
  'contested-1': 2433.43,
  'contested-2': 2647.08,
  'contested-3': 2214.4,
  'instance-14': 2047.53,
  'instance-18': 2391.69,
};
const [dir, repsArg, baseCli, baseArgs] = process.argv.slice(2);
if (!dir) throw new Error('usage: fresh-probe.js DIR REPS [BASE_CLI]');
const reps = Number(repsArg ?? 3);
const thisCli = new URL('../../../cli/main.js', import.meta.url).pathname;
const clis = baseCli ? [baseCli, thisCli] : [thisCli];
const out = mkdtempSync(join(tmpdir(), 'fresh-probe-'));

function clearOnce(cli: string, round: string, extra: string[]): string {
  const output = join(out, 'result.json');
  execFileSync(
    process.execPath,
    [cli, 'clear', '--input', join(dir, `${round}.json`), '--output', output, '--time-limit-ms', '1000', ...extra],
    { stdio: 'ignore' },
  );
  const result = JSON.parse(readFileSync(output, 'utf8')) as {
    welfare: string;
    stats: { solveMs: number; cutShort: boolean; lane?: string };
  };
  const ratio = (100 * Number(result.welfare)) / OPTIMA[round];
  return `${ratio.toFixed(2)}% ${result.stats.solveMs} ms${result.stats.lane ? ` (lane ${result.stats.lane})` : ''}`;
}

console.log(
  `load ${loadavg()[0].toFixed(2)}; each run: welfare over the optimum, solve time${baseCli ? '; base | this' : ''}`,
);
for (const round of Object.keys(OPTIMA)) {
  const cells: string[][] = clis.map(() => []);
  for (let r = 0; r < reps; r++)
    clis.forEach((cli, i) =>
      cells[i].push(clearOnce(cli, round, i === 0 && baseCli && baseArgs ? baseArgs.split(' ') : [])),
    );
  console.log(`${round}: ${cells.map((c) => c.join(', ')).join(' | ')}`);
}
console.log(`load ${loadavg()[0].toFixed(2)}`);
rmSync(out, { recursive: true, force: true });
