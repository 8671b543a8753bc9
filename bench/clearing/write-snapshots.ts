import { mkdirSync, writeFileSync } from 'node:fs';
import { serializeSnapshot } from '../../src/core/clearing/snapshot-file.js';
import { generateContested } from './generate-contested.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/write-snapshots.js DIR`: the six 1,000 x 250 benchmark rounds
 * (first shape seeds 42, 7, 1; contested seeds 1-3) as snapshot files, for `gpumarket clear` in a
 * fresh process (docs/benchmarks.md, "A fresh process").
 */
const dir = process.argv[2] ?? 'artifacts/snapshots';
mkdirSync(dir, { recursive: true });
const rounds = [
  ['instance-42', generateInstance(1000, 250, 42)],
  ['instance-7', generateInstance(1000, 250, 7)],
  ['instance-1', generateInstance(1000, 250, 1)],
  ['contested-1', generateContested(1000, 250, 1)],
  ['contested-2', generateContested(1000, 250, 2)],
  ['contested-3', generateContested(1000, 250, 3)],
] as const;
for (const [name, snapshot] of rounds)
  writeFileSync(`${dir}/${name}.json`, JSON.stringify(serializeSnapshot(snapshot)));
console.log(`wrote ${rounds.length} snapshots to ${dir}`);
