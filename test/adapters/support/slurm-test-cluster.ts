import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const scripts = fileURLToPath(new URL('../../../scripts/slurm/', import.meta.url));

export interface SlurmTestCluster {
  readonly dir: string;
  readonly slurmConf: string;
  readonly node: string;
  readonly gpus: number;
  stop(): Promise<void>;
}

/**
 * A real slurmctld + slurmd on loopback (installed first if missing), with ports of its own so
 * that it never meets another cluster on the machine.
 */
export async function startSlurmTestCluster(): Promise<SlurmTestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gpumarket-slurm-'));
  const base = 20_000 + Math.floor(Math.random() * 20_000) * 2;
  const env = { ...process.env, SLURMCTLD_PORT: String(base), SLURMD_PORT: String(base + 1) };
  await run('bash', [join(scripts, 'install.sh')], { env, timeout: 300_000 });
  const { stdout } = await run('bash', [join(scripts, 'start-test-cluster.sh'), dir], { env, timeout: 60_000 });
  return {
    dir,
    slurmConf: stdout.trim().split('\n').at(-1)!,
    node: 'gpu-node-1',
    gpus: 8,
    stop: async () => {
      await run('bash', [join(scripts, 'stop-test-cluster.sh'), dir], { timeout: 30_000 });
    },
  };
}
