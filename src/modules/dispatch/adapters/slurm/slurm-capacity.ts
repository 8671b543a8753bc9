import { catalogueNameForGresType } from '../gpu-model-names.js';
import type { NodeRegistration } from '../nvidia-agent/agent-protocol.js';
import type { SlurmCli } from './slurm-cli.js';
import { isFinal, isPending } from './slurm-job-status.js';
import { expandHostlist, type SlurmJob } from './slurm-json.js';
import { JOB_NAME_PREFIX } from './slurm-submission.js';

/**
 * Capacity import: reads the cluster's nodes and GPU gres from the controller and turns them into
 * the market's node registrations (`PUT /v1/nodes`).
 */
export interface SlurmNode {
  readonly name: string;
  readonly state: string;
  readonly partitions: string[];
  /** GPU gres by type: `gpu:h100:8` -> { h100: 8 }; an untyped `gpu:4` is type ''. */
  readonly gpus: Record<string, number>;
}

/** `scontrol -o show node`: one node per line of Key=Value pairs (values may contain spaces). */
export function parseSlurmNodes(output: string): SlurmNode[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('NodeName='))
    .map((line) => {
      const field = (key: string) => new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line)?.[1] ?? '';
      const gpus: Record<string, number> = {};
      // Entries are comma-separated; a socket binding such as (S:0-1) or (IDX:0,1) may follow one.
      for (const entry of field('Gres')
        .replace(/\([^)]*\)/g, '')
        .split(',')) {
        const parts = entry.split(':');
        if (parts[0] !== 'gpu') continue;
        const count = Number(parts.at(-1));
        const type = parts.length >= 3 ? parts[1]! : '';
        if (Number.isInteger(count) && count > 0) gpus[type] = (gpus[type] ?? 0) + count;
      }
      return {
        name: field('NodeName'),
        state: field('State'),
        partitions: field('Partitions')
          .split(',')
          .filter((p) => p !== '' && p !== '(null)'),
        gpus,
      };
    });
}

export async function readSlurmNodes(cli: SlurmCli): Promise<SlurmNode[]> {
  return parseSlurmNodes(await cli.run('scontrol', ['-o', 'show', 'node']));
}

export interface ImportOptions {
  readonly region: string;
  readonly block: string;
  readonly reservePrice: string;
  /** gres type -> catalogue name, for types the built-in table does not know. */
  readonly models?: Readonly<Record<string, string>>;
  /** Only nodes in these partitions (all when empty). */
  readonly partitions?: readonly string[];
}

export interface ImportPlan {
  readonly nodes: NodeRegistration[];
  readonly skipped: Array<{ node: string; reason: string }>;
}

const UNUSABLE = /DOWN|DRAIN|FAIL|NOT_RESPONDING|INVAL|FUTURE/;

export function planImport(nodes: readonly SlurmNode[], options: ImportOptions): ImportPlan {
  const plan: ImportPlan = { nodes: [], skipped: [] };
  for (const node of nodes) {
    const types = Object.entries(node.gpus);
    const skip = (reason: string) => plan.skipped.push({ node: node.name, reason });
    if (options.partitions?.length && !node.partitions.some((p) => options.partitions!.includes(p))) {
      skip(`not in partition ${options.partitions.join(',')}`);
    } else if (types.length === 0) skip('no GPU gres');
    else if (types.length > 1)
      skip(`several GPU types (${types.map(([t]) => t).join(', ')}); a market node has one model`);
    else if (UNUSABLE.test(node.state)) skip(`state ${node.state}`);
    else {
      const [type, count] = types[0]!;
      const gpuModel = catalogueNameForGresType(type, options.models);
      if (!gpuModel) skip(`gres type "${type}" has no catalogue name; pass --model ${type || 'TYPE'}=NAME`);
      else {
        plan.nodes.push({
          externalId: node.name,
          gpuModel,
          gpus: count,
          region: options.region,
          block: options.block,
          reservePrice: options.reservePrice,
        });
      }
    }
  }
  return plan;
}

/**
 * GPUs that jobs other than the market's hold, by node: the provider's own users' running jobs
 * (names not starting with the market's prefix). While they run, the market cannot have those
 * GPUs: its leases there pend on `Resources`. The market marks them unavailable on the node, so
 * that it stops selling them and a lease placed there before is not counted as started.
 */
export function foreignGpuUse(jobs: readonly SlurmJob[]): Map<string, number> {
  const use = new Map<string, number>();
  for (const job of jobs) {
    if (job.name.startsWith(JOB_NAME_PREFIX) || isPending(job) || isFinal(job) || !job.gpusPerNode || !job.nodes)
      continue;
    const nodes = expandHostlist(job.nodes);
    job.gpusPerNode.forEach((gpus, index) => {
      const node = nodes[index];
      if (node && gpus > 0) use.set(node, (use.get(node) ?? 0) + gpus);
    });
  }
  return use;
}
