import { AdapterError, type PlaceOrder } from '../provider-adapter.js';

/**
 * Turns a place order into sbatch's arguments and a batch script. The script is generated, never
 * interpolated from a shell string: every argv word and env value is single-quoted.
 */
export interface SlurmSubmissionOptions {
  readonly partition?: string;
  readonly account?: string;
  readonly qos?: string;
  readonly reservation?: string;
  /** CPUs per granted GPU (`--cpus-per-gpu`); without it Slurm gives the job one CPU. */
  readonly cpusPerGpu?: number;
  /** Memory per granted GPU (`--mem-per-gpu`), Slurm's syntax: `64G`, `200000M`, `512000`. */
  readonly memPerGpu?: string;
  /**
   * Directory under which each lease gets its own work directory (`<workDir>/<lease id>`), the
   * job's `--chdir` and where its stdout and stderr files go. It must be on storage the compute
   * nodes share with the market (as Slurm's own submit directory must be).
   */
  readonly workDir?: string;
  /** Added to the lease's run time for the job's time limit, a backstop if the market is gone. */
  readonly timeLimitSlackSeconds?: number;
  /**
   * gres type by the market's GPU model (`{ "H100-SXM-80GB": "h100" }`), for nodes whose grant
   * does not carry the gres type itself (GrantedNode.gpuType, which wins).
   */
  readonly gresTypes?: Readonly<Record<string, string>>;
  /** Extra sbatch flags chosen by the operator, from an allow-list (see EXTRA_ARG_FLAGS). */
  readonly extraArgs?: readonly string[];
}

/**
 * sbatch flags an operator may add. Everything the market itself decides (job name, nodes,
 * GPUs, environment, time, output, directory, requeue, user) is left out, and so is anything that
 * runs a program or reads a file (--wrap, --prolog-like options, --get-user-env).
 */
export const EXTRA_ARG_FLAGS: ReadonlySet<string> = new Set([
  '--constraint',
  '--prefer',
  '--exclusive',
  '--gpu-bind',
  '--gpu-freq',
  '--cpu-freq',
  '--hint',
  '--mem-bind',
  '--distribution',
  '--licenses',
  '--network',
  '--switches',
  '--tmp',
  '--wckey',
  '--nice',
  '--priority',
  '--time-min',
  '--core-spec',
  '--thread-spec',
  '--cores-per-socket',
  '--sockets-per-node',
  '--threads-per-core',
  '--ntasks-per-gpu',
  '--gres-flags',
  '--cluster-constraint',
  '--spread-job',
  '--use-min-nodes',
  '--mcs-label',
  '--power',
]);

/** One argv word `--flag` or `--flag=value`; the value free of whitespace, quotes and shell syntax. */
const EXTRA_ARG = /^(--[a-z][a-z0-9-]*)(?:=([A-Za-z0-9_.,:@%+/[\]&|!*-]*))?$/;

/** Checks operator-given sbatch flags; returns the reason for the first bad one, or undefined. */
export function extraArgsProblem(args: readonly string[]): string | undefined {
  for (const arg of args) {
    const match = EXTRA_ARG.exec(arg);
    if (!match) return `${JSON.stringify(arg)} is not one --flag or --flag=value word of safe characters`;
    if (!EXTRA_ARG_FLAGS.has(match[1]!))
      return `${match[1]} is not an allowed extra sbatch flag (allowed: ${[...EXTRA_ARG_FLAGS].join(' ')})`;
  }
  return undefined;
}

/** Slurm names (partition, account, QoS, reservation, gres type): no spaces, commas or shell syntax. */
const SLURM_NAME = /^[A-Za-z0-9_.-]+$/;
const MEMORY = /^[0-9]+[KMGT]?$/;

/** Checks the provider-level settings; returns the reasons, empty when all are usable. */
export function settingsProblems(options: SlurmSubmissionOptions): string[] {
  const problems: string[] = [];
  for (const key of ['partition', 'account', 'qos', 'reservation'] as const) {
    const value = options[key];
    if (value !== undefined && !SLURM_NAME.test(value))
      problems.push(`${key}: ${JSON.stringify(value)} is not a Slurm name ([A-Za-z0-9_.-]+)`);
  }
  if (options.cpusPerGpu !== undefined && (!Number.isInteger(options.cpusPerGpu) || options.cpusPerGpu < 1)) {
    problems.push(`cpusPerGpu: ${options.cpusPerGpu} must be a positive integer`);
  }
  if (options.memPerGpu !== undefined && !MEMORY.test(options.memPerGpu)) {
    problems.push(
      `memPerGpu: ${JSON.stringify(options.memPerGpu)} must be a number with an optional K, M, G or T suffix`,
    );
  }
  for (const [model, type] of Object.entries(options.gresTypes ?? {})) {
    if (!SLURM_NAME.test(type)) problems.push(`gresTypes.${model}: ${JSON.stringify(type)} is not a gres type name`);
  }
  const extra = extraArgsProblem(options.extraArgs ?? []);
  if (extra) problems.push(`extraArgs: ${extra}`);
  return problems;
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

/** The lease's own directory under workDir; lease ids become path segments, so they are checked. */
export function leaseDirFor(workDir: string, leaseId: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(leaseId) || leaseId.startsWith('.')) {
    throw AdapterError.permanent(`lease id ${JSON.stringify(leaseId)} cannot name a work directory`);
  }
  return `${workDir.replace(/\/+$/, '')}/${leaseId}`;
}

/**
 * `leaseDir`: the lease's work directory (see leaseDirFor), made by the caller before sbatch;
 * when absent the job runs where sbatch runs (tests of the arguments alone).
 */
export function buildSubmission(
  order: PlaceOrder,
  options: SlurmSubmissionOptions = {},
  leaseDir?: string,
): SlurmSubmission {
  const problems = settingsProblems(options);
  if (problems.length > 0) throw AdapterError.permanent(`slurm adapter settings: ${problems.join('; ')}`);
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
    if (!ENV_NAME.test(name))
      throw AdapterError.permanent(`workload.env: ${JSON.stringify(name)} is not a variable name`);
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
    ...(options.reservation ? [`--reservation=${options.reservation}`] : []),
    ...(leaseDir
      ? [`--chdir=${leaseDir}`, `--output=${leaseDir}/slurm-%j.out`, `--error=${leaseDir}/slurm-%j.err`]
      : []),
    ...(options.extraArgs ?? []),
  ];
  // Per component: a heterogeneous job's components take their own --cpus-per-gpu/--mem-per-gpu.
  const perGpu = [
    ...(options.cpusPerGpu ? [`--cpus-per-gpu=${options.cpusPerGpu}`] : []),
    ...(options.memPerGpu ? [`--mem-per-gpu=${options.memPerGpu}`] : []),
  ];
  const typeOf = (node: (typeof order.nodes)[number]) => node.gpuType ?? options.gresTypes?.[order.gpuModel];
  for (const node of order.nodes) {
    const type = typeOf(node);
    if (type !== undefined && !SLURM_NAME.test(type))
      throw AdapterError.permanent(
        `node ${node.externalId}: gres type ${JSON.stringify(type)} is not a gres type name`,
      );
  }
  const gres = (node: (typeof order.nodes)[number]) => {
    const type = typeOf(node);
    return [`--gres=gpu:${type ? `${type}:` : ''}${node.gpus}`, ...perGpu];
  };
  const uniform = order.nodes.every(
    (node) => node.gpus === order.nodes[0]!.gpus && typeOf(node) === typeOf(order.nodes[0]!),
  );

  let args: string[];
  let launcher: string[] = [];
  if (uniform) {
    args = [
      ...common,
      `--nodes=${order.nodes.length}`,
      `--nodelist=${order.nodes.map((node) => node.externalId).join(',')}`,
      ...gres(order.nodes[0]!),
    ];
    if (order.nodes.length > 1)
      launcher = ['srun', `--nodes=${order.nodes.length}`, '--ntasks-per-node=1', '--kill-on-bad-exit=1'];
  } else {
    // Different GPU counts per node: a heterogeneous job, one component per node.
    args = [...common];
    order.nodes.forEach((node, index) => {
      if (index > 0) args.push(':');
      args.push('--nodes=1', `--nodelist=${node.externalId}`, ...gres(node));
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
