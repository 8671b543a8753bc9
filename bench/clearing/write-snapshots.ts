import { probeRounds } from './probe-rounds.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { serializeSnapshot } from '../../src/core/clearing/snapshot-file.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/write-snapshots.js DIR [SEEDS]`: the six 1,000 x 250 benchmark
 * rounds (first shape seeds 42, 7, 1; contested seeds 1-3) as snapshot files, for `gpumarket
 * clear` in a fresh process (docs/benchmarks.md, "A fresh process"); with SEEDS (e.g. 14,18),
 * the first shape's 1,000 x 250 rounds of those seeds as well, as instance-SEED.json.
 */
const dir = process.argv[2] ?? 'artifacts/snapshots';
const seeds = process.argv[3]?.split(',').map(Number) ?? [];
mkdirSync(dir, { recursive: true });
const rounds = [
  ...probeRounds(),
  ...seeds.map((seed) => [`instance ${seed}`, generateInstance(1000, 250, seed)] as const),
];
for (const [name, snapshot] of rounds)
  writeFileSync(`${dir}/${name.replace(' ', '-')}.json`, JSON.stringify(serializeSnapshot(snapshot)));
console.log(`wrote ${rounds.length} snapshots to ${dir}`);
