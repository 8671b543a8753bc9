import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { freeLocalPort } from '../../src/platform/http/local-serving.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = join(ROOT, 'dist/cli/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ when it is older than src/, so that tests can start the service as a real
 * process. CI builds before the tests (.ci/run), so there this is a check, not a build.
 */
export function buildService(): void {
  const built = existsSync(ENTRY) ? statSync(ENTRY).mtimeMs : 0;
  if (built > newestSource(join(ROOT, 'src'))) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
    { stdio: 'inherit' },
  );
}

/** A TCP port free on this host now. */
export const freePort = freeLocalPort;

export interface ServiceProcess {
  readonly process: ChildProcess;
  readonly base: string;
  readonly output: () => string;
  /** Resolves with the signal or exit code once the process is gone. */
  readonly exited: Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<string>;
}

/** `gpumarket serve` as its own process; resolves once it listens (or rejects if it dies first). */
export async function startService(env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [ENTRY, 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DEMO_FLEET: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<string>((done) => child.once('exit', (code, signal) => done(signal ?? String(code))));
  await new Promise<void>((ready, fail) => {
    const timer = setInterval(() => {
      if (output.includes('listening on')) {
        clearInterval(timer);
        ready();
      }
    }, 50);
    void exited.then((how) => {
      clearInterval(timer);
      fail(new Error(`service exited (${how}) before listening:\n${output}`));
    });
  });
  return {
    process: child,
    base: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      // A process that does not stop is a bug a test should show, with what the process said.
      const slow = setTimeout(
        () => console.log(`service pid ${child.pid} still alive 15 s after ${signal}:\n${output.slice(-5000)}`),
        15_000,
      );
      const how = await exited;
      clearTimeout(slow);
      return how;
    },
  };
}
