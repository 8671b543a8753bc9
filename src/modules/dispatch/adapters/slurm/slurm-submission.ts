import { AdapterError, type PlaceOrder } from '../provider-adapter.js';

/**
 * Turns a place order into sbatch's arguments and a batch script. The script is generated, never
 * interpolated from a shell string: every argv word and env value is single-quoted.
 */
export interface SlurmSubmissionOptions {
  readonly partition?: string;
  readonly account?: string;
  readonly qos?: string;
  /** Directory the job runs in and writes its output to (slurm-<jobid>.out). */
  readonly workDir?: string;
  /** Added to the lease's run time for the job's time limit, a backstop if the market is gone. */
  readonly timeLimitSlackSeconds?: number;
  /** Extra sbatch flags chosen by the operator (for example `--cpus-per-gpu=8`). */
  readonly extraArgs?: readonly string[];
}

export const JOB_NAME_PREFIX = 'gpumarket-';

export function jobNameFor(leaseId: string): string {
  return `${JOB_NAME_PREFIX}${leaseId}`;
}

export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface SlurmSubmission {
  readonly args: string[];
  readonly script: string;
}

export function buildSubmission(order: PlaceOrder, options: SlurmSubmissionOptions = {}): SlurmSubmission {
  const command = order.workload.command ?? [];
  if (order.workload.image) {
    throw AdapterError.permanent('the slurm adapter runs commands, not container images; set workload.command');
  }
  if (command.length === 0) throw AdapterError.permanent('workload.command is empty');
  if (order.nodes.length === 0) throw AdapterError.permanent('the order grants no nodes');
  for (const node of order.nodes) {
    if (!Number.isInteger(node.gpus) || node.gpus < 1) {
      throw AdapterError.permanent(`node ${node.externalId}: gpus must be a positive integer`);
    }
  }
  const env = { ...(order.workload.env ?? {}), GPUMARKET_LEASE_ID: order.leaseId };
  for (const name of Object.keys(env)) {
    if (!ENV_NAME.test(name)) throw AdapterError.permanent(`workload.env: ${JSON.stringify(name)} is not a variable name`);
  }

  const minutes = Math.max(1, Math.ceil((order.runtimeSeconds + (options.timeLimitSlackSeconds ?? 600)) / 60));
  const common = [
    `--job-name=${jobNameFor(order.leaseId)}`,
    '--parsable',
    // The market's own environment (database URLs, keys) must not leak into tenant jobs.
    '--export=NONE',
    // A node failure ends the lease; the market re-places it, Slurm must not requeue a copy.
    '--no-requeue',
    `--time=${minutes}`,
    ...(options.partition ? [`--partition=${options.partition}`] : []),
    ...(options.account ? [`--account=${options.account}`] : []),
    ...(options.qos ? [`--qos=${options.qos}`] : []),
    ...(options.workDir ? [`--chdir=${options.workDir}`] : []),
    ...(options.extraArgs ?? []),
  ];
  const gres = (gpus: number, gpuType?: string) => `--gres=gpu:${gpuType ? `${gpuType}:` : ''}${gpus}`;
  const uniform = order.nodes.every(
    (node) => node.gpus === order.nodes[0]!.gpus && node.gpuType === order.nodes[0]!.gpuType,
  );

  let args: string[];
  let launcher: string[] = [];
  if (uniform) {
    args = [
      ...common,
      `--nodes=${order.nodes.length}`,
      `--nodelist=${order.nodes.map((node) => node.externalId).join(',')}`,
      gres(order.nodes[0]!.gpus, order.nodes[0]!.gpuType),
    ];
    if (order.nodes.length > 1) launcher = ['srun', `--nodes=${order.nodes.length}`, '--ntasks-per-node=1', '--kill-on-bad-exit=1'];
  } else {
    // Different GPU counts per node: a heterogeneous job, one component per node.
    args = [...common];
    order.nodes.forEach((node, index) => {
      if (index > 0) args.push(':');
      args.push('--nodes=1', `--nodelist=${node.externalId}`, gres(node.gpus, node.gpuType));
    });
    launcher = ['srun', `--het-group=0-${order.nodes.length - 1}`, '--kill-on-bad-exit=1'];
  }

  const lines = [
    '#!/bin/sh',
    `# gpumarket lease ${order.leaseId} (bid ${order.bidId}, tenant ${order.tenantId})`,
    ...Object.entries(env).map(([name, value]) => `export ${name}=${shellQuote(value)}`),
    // exec: the workload becomes the batch step itself, so `scancel --batch` signals it directly.
    `exec ${[...launcher, ...command].map(shellQuote).join(' ')}`,
    '',
  ];
  return { args, script: lines.join('\n') };
}
