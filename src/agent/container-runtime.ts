import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LeaseRecord } from './agent-state-store.js';
import { safeName } from './process-runtime.js';
import type { LeaseSpec, StartedLease, WorkloadRuntime } from './runtime.js';
import type { WorkloadCheck } from './workload-runner.js';
import type { WorkloadUser, WorkloadUsers } from './workload-users.js';

/**
 * `--runtime docker|podman`: the lease's `workload.image` in an OCI container. What the container
 * gets is exactly what `runArgs` lists: its GPUs (by CDI device name, or `--gpus device=` for a
 * docker without CDI), the lease's own environment and nothing of the host's, its scratch
 * directory at /scratch, an unprivileged user, no capabilities and no privilege escalation, and
 * the configured network. The container is not started with --rm: the agent reads its exit code
 * with `inspect` (also after its own restart) and removes it afterwards.
 */
export type ContainerCli = 'docker' | 'podman';

export interface ContainerRuntimeOptions {
  readonly kind: ContainerCli;
  /** The CLI to run; default the kind's name on PATH. */
  readonly cli?: string;
  readonly scratchRoot: string;
  /** Per-GPU-slot users; undefined: the agent's own uid and gid. */
  readonly users?: WorkloadUsers;
  /** `--network`; default `bridge` for docker and podman alike. */
  readonly network?: string;
  /** Whether GPUs are passed as CDI devices (podman: always). */
  readonly cdi: boolean;
  /** Seconds a `run` (which may pull the image) may take. */
  readonly startTimeoutSeconds?: number;
  /** A running container is inspected at most this often (each inspect is a CLI process); default 2000. */
  readonly inspectIntervalMs?: number;
}

export function containerName(leaseId: string): string {
  return `gpumarket-${safeName(leaseId)}`;
}

/** The exact argv after the CLI name for starting a lease's container. */
export function runArgs(
  spec: LeaseSpec,
  options: {
    readonly kind: ContainerCli;
    readonly cdi: boolean;
    readonly network: string;
    readonly scratch: string;
    readonly user: { uid: number; gid: number };
  },
): string[] {
  if (!spec.image) throw new Error('workload.image is missing');
  const ids = spec.gpus.map((gpu) => gpu.uuid ?? String(gpu.index));
  const gpus =
    options.kind === 'podman' || options.cdi
      ? ids.flatMap((id) => ['--device', `nvidia.com/gpu=${id}`])
      : // docker parses --gpus as CSV: a list of devices needs the quotes inside the value.
        ['--gpus', `"device=${ids.join(',')}"`];
  const env = Object.entries(spec.env).flatMap(([name, value]) => ['--env', `${name}=${value}`]);
  const port = spec.env.PORT;
  return [
    'run',
    '-d',
    '--name',
    containerName(spec.leaseId),
    '--label',
    `gpumarket.lease=${spec.leaseId}`,
    ...gpus,
    ...env,
    '-v',
    `${options.scratch}:/scratch`,
    '--user',
    `${options.user.uid}:${options.user.gid}`,
    '--security-opt',
    'no-new-privileges',
    '--cap-drop',
    'ALL',
    '--network',
    options.network,
    ...(spec.publish
      ? ['-p', `${spec.publish.host}:${spec.publish.container}`]
      : port && /^\d{1,5}$/.test(port)
        ? ['-p', `${port}:${port}`]
        : []),
    spec.image,
    ...(spec.command ?? []),
  ];
}

export class ContainerRuntime implements WorkloadRuntime {
  readonly kind: ContainerCli;
  private readonly cli: string;
  private readonly lastRunning = new Map<string, number>();

  constructor(private readonly options: ContainerRuntimeOptions) {
    this.kind = options.kind;
    this.cli = options.cli ?? options.kind;
    mkdirSync(options.scratchRoot, { recursive: true, mode: 0o711 });
  }

  refusal(spec: LeaseSpec): string | undefined {
    if (!spec.image) return `the ${this.kind} runtime runs container images; workload.image is missing`;
    if (spec.env.PORT !== undefined && !/^\d{1,5}$/.test(spec.env.PORT))
      return 'workload.env.PORT must be a port number';
    return undefined;
  }

  async start(spec: LeaseSpec): Promise<StartedLease> {
    const name = containerName(spec.leaseId);
    const scratch = join(this.options.scratchRoot, safeName(spec.leaseId));
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { mode: 0o700 });
    const user = this.userFor(spec);
    if (this.options.users) chownSync(scratch, user.uid, user.gid);
    // A container of the same name is left from an earlier attempt of this lease: replace it.
    await this.exec(['rm', '-f', name]).catch(() => undefined);
    const args = runArgs(spec, {
      kind: this.kind,
      cdi: this.options.cdi,
      network: this.options.network ?? 'bridge',
      scratch,
      user,
    });
    await this.exec(args, (this.options.startTimeoutSeconds ?? 600) * 1000);
    return { pid: 0, exitFile: '', logFile: `${this.cli} logs ${name}`, container: name, scratch };
  }

  async check(lease: LeaseRecord): Promise<WorkloadCheck> {
    const name = lease.container ?? containerName(lease.leaseId);
    const seen = this.lastRunning.get(name);
    if (seen !== undefined && Date.now() - seen < (this.options.inspectIntervalMs ?? 2000)) return { ended: false };
    const result = await this.inspect(name);
    if (result.ended) this.lastRunning.delete(name);
    else this.lastRunning.set(name, Date.now());
    return result;
  }

  private async inspect(name: string): Promise<WorkloadCheck> {
    let stdout: string;
    try {
      stdout = await this.exec(['inspect', '--type', 'container', '--format', '{{json .State}}', name]);
    } catch (error) {
      if (/no such (object|container)/i.test((error as Error).message)) return { ended: true, signal: 'unknown' };
      // The engine itself did not answer: nothing is known, so nothing changes.
      return { ended: false };
    }
    const state = JSON.parse(stdout) as { Status?: string; ExitCode?: number; OOMKilled?: boolean };
    const status = (state.Status ?? '').toLowerCase();
    if (status === 'exited' || status === 'dead' || status === 'stopped') {
      return state.OOMKilled
        ? { ended: true, signal: 'SIGKILL (out of memory)' }
        : { ended: true, exitCode: state.ExitCode ?? undefined };
    }
    return { ended: false };
  }

  async stop(lease: LeaseRecord, graceSeconds: number): Promise<void> {
    this.lastRunning.delete(lease.container ?? containerName(lease.leaseId));
    // The engine sends SIGTERM, waits the grace, then SIGKILLs: this call returns after both.
    await this.exec(
      ['stop', '-t', String(Math.max(0, Math.round(graceSeconds))), lease.container ?? containerName(lease.leaseId)],
      (graceSeconds + 60) * 1000,
    );
  }

  async kill(lease: LeaseRecord): Promise<void> {
    // `stop -t` kills at the end of the grace itself; this only acts when that did not happen.
    const check = await this.inspect(lease.container ?? containerName(lease.leaseId));
    if (!check.ended) await this.exec(['kill', lease.container ?? containerName(lease.leaseId)]).catch(() => undefined);
  }

  async release(lease: LeaseRecord): Promise<boolean> {
    const name = lease.container ?? containerName(lease.leaseId);
    try {
      await this.exec(['rm', '-f', name]);
    } catch (error) {
      if (!/no such (object|container)/i.test((error as Error).message)) return false;
    }
    if (lease.scratch) rmSync(lease.scratch, { recursive: true, force: true });
    return true;
  }

  private userFor(spec: LeaseSpec): WorkloadUser | { uid: number; gid: number } {
    if (this.options.users) return this.options.users.forSlot(Math.min(...spec.gpus.map((gpu) => gpu.index)));
    const uid = process.getuid?.() ?? 65534;
    // Never root inside the container: without per-lease users, the workload is nobody.
    return uid === 0 ? { uid: 65534, gid: 65534 } : { uid, gid: process.getgid?.() ?? 65534 };
  }

  private exec(args: string[], timeoutMs = 60_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.cli, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${this.cli} ${args[0]} failed: ${String(stderr).trim() || error.message}`));
        else resolve(String(stdout).trim());
      });
    });
  }
}

/** Whether every GPU is listed as a CDI device (`nvidia-ctk cdi list`), by UUID. */
export function cdiListsAll(listOutput: string, uuids: readonly string[]): boolean {
  const devices = new Set(listOutput.split('\n').map((line) => line.trim()));
  return uuids.length > 0 && uuids.every((uuid) => devices.has(`nvidia.com/gpu=${uuid}`));
}
