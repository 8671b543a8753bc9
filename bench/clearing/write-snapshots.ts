import { probeRounds } from './probe-rounds.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { serializeSnapshot } from '../../src/core/clearing/snapshot-file.js';

/**
 * `node dist/bench/bench/clearing/write-snapshots.js DIR`: the six 1,000 x 250 benchmark rounds
 * (first shape seeds 42, 7, 1; contested seeds 1-3) as snapshot files, for `gpumarket clear` in a
 * fresh process (docs/benchmarks.md, "A fresh process").
 */
const dir = process.argv[2] ?? 'artifacts/snapshots';
mkdirSync(dir, { recursive: true });
const rounds = probeRounds();
for (const [name, snapshot] of rounds)
  writeFileSync(`${dir}/${name.replace(' ', '-')}.json`, JSON.stringify(serializeSnapshot(snapshot)));
console.log(`wrote ${rounds.length} snapshots to ${dir}`);
