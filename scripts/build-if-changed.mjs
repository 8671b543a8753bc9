#!/usr/bin/env node
// Builds dist/ only when a source changed since the last successful build, so that a second
// `npm start` starts the service at once instead of recompiling it (a full build takes 20-40 s
// on two cores). Used by `npm start` and by `prepare`, which makes `npm install` leave a
// working `npx gpumarket`. `--force` builds anyway.
//
// "Changed" is by modification time: any file or directory under src/ (a deleted file changes
// its directory's time), the tsconfig files and package.json, newer than dist/.build-stamp.
// The stamp is written only after tsc succeeds, so a failed build is retried on the next start.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const entry = join(root, 'dist', 'cli', 'main.js');

function newest(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const name of readdirSync(path)) latest = Math.max(latest, newest(join(path, name)));
  return latest;
}

function upToDate() {
  if (!existsSync(stamp) || !existsSync(entry)) return false;
  const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json']
    .map((p) => join(root, p))
    .filter(existsSync);
  return Math.max(...inputs.map(newest)) < statSync(stamp).mtimeMs;
}

if (!process.argv.includes('--force') && upToDate()) process.exit(0);

let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  process.stderr.write(
    'gpumarket: cannot build dist/: TypeScript is not installed (run `npm install` without --omit=dev)\n',
  );
  process.exit(1);
}
const started = Date.now();
process.stderr.write('gpumarket: dist/ is missing or older than the sources; building it ...\n');
// Incremental: a rebuild after a small change re-checks only what the change can affect.
const build = spawnSync(
  process.execPath,
  [
    tsc,
    '-p',
    join(root, 'tsconfig.build.json'),
    '--incremental',
    '--tsBuildInfoFile',
    join(root, 'dist', '.tsbuildinfo'),
  ],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (build.status !== 0) {
  process.stderr.write(
    `gpumarket: the build failed (tsc exit ${build.status ?? build.signal}); dist/ is not marked as built\n`,
  );
  process.exit(build.status || 1);
}
writeFileSync(stamp, `${new Date().toISOString()}\n`);
// Dated from before the build: a source saved while tsc ran is newer, and is built next time.
utimesSync(stamp, new Date(started), new Date(started));
process.stderr.write(`gpumarket: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
