import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm start` and `npm install` (prepare) run scripts/build-if-changed.mjs: it must build when
 * dist/ is missing or a source changed (edited, added or deleted), and only then, so that a second
 * start does not recompile. Run here on a two-file project with the repository's TypeScript.
 */
const ROOT = resolve(import.meta.dirname, '../..');
let project: string;

/** Runs the script as `npm start` does; says whether it built (it reports a build on stderr). */
function builds(): boolean {
  const run = spawnSync(process.execPath, [join(project, 'scripts/build-if-changed.mjs')], {
    cwd: project,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`build-if-changed failed: ${run.stderr}`);
  return run.stderr.includes('built dist/');
}

const output = () => execFileSync(process.execPath, [join(project, 'dist/cli/main.js')], { encoding: 'utf8' });

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'build-if-changed-'));
  mkdirSync(join(project, 'scripts'));
  mkdirSync(join(project, 'src/cli'), { recursive: true });
  mkdirSync(join(project, 'node_modules'));
  cpSync(join(ROOT, 'scripts/build-if-changed.mjs'), join(project, 'scripts/build-if-changed.mjs'));
  symlinkSync(join(ROOT, 'node_modules/typescript'), join(project, 'node_modules/typescript'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'probe', type: 'module' }));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true, types: [] } }),
  );
  writeFileSync(
    join(project, 'tsconfig.build.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { rootDir: 'src', outDir: 'dist' },
      include: ['src'],
    }),
  );
  writeFileSync(join(project, 'src/cli/main.ts'), `import { greet } from './greet.js';\nconsole.log(greet());\n`);
  writeFileSync(join(project, 'src/cli/greet.ts'), `export const greet = () => 'hello';\n`);
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('build-if-changed', () => {
  it('builds when dist/ is missing, then not again until a source changes', () => {
    expect(builds()).toBe(true);
    expect(existsSync(join(project, 'dist/cli/main.js'))).toBe(true);
    expect(output()).toBe('hello\n');
    expect(builds()).toBe(false);
    expect(builds()).toBe(false);
  });

  it('rebuilds after an edit, an added file and a deleted file', () => {
    writeFileSync(join(project, 'src/cli/greet.ts'), `export const greet = () => 'hello again';\n`);
    expect(builds()).toBe(true);
    expect(output()).toBe('hello again\n');
    expect(builds()).toBe(false);

    writeFileSync(join(project, 'src/cli/extra.ts'), `export const extra = 1;\n`);
    expect(builds()).toBe(true);
    expect(existsSync(join(project, 'dist/cli/extra.js'))).toBe(true);

    rmSync(join(project, 'src/cli/extra.ts'));
    expect(builds()).toBe(true);
    expect(builds()).toBe(false);
  });

  it('builds again when dist/ was removed, even with sources older than the last build', () => {
    rmSync(join(project, 'dist'), { recursive: true });
    expect(builds()).toBe(true);
    expect(output()).toBe('hello again\n');
  });
});
