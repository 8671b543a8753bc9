#!/usr/bin/env node
// Regenerates the configuration table of docs/operations.md from the code that reads the
// variables (src/platform/config). Run through `npm run docs:config`, which builds dist/ first.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { withConfigTable, describeConfig } = await import(join(root, 'dist/platform/config/config-docs.js'));
const path = join(root, 'docs/operations.md');
const before = readFileSync(path, 'utf8');
const after = withConfigTable(before);
if (after !== before) writeFileSync(path, after);
const undescribed = describeConfig()
  .filter((v) => v.meaning === null)
  .map((v) => v.name);
process.stdout.write(`docs/operations.md: ${after === before ? 'already up to date' : 'table regenerated'}\n`);
if (undescribed.length > 0) {
  process.stderr.write(`no meaning yet in src/platform/config/config-docs.ts for: ${undescribed.join(', ')}\n`);
  process.exit(1);
}
