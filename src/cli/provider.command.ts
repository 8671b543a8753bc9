import { parseArgs } from 'node:util';
import { MarketClient } from '../agent/market-client.js';
import { SlurmCli } from '../modules/dispatch/adapters/slurm/slurm-cli.js';
import { planImport, readSlurmNodes } from '../modules/dispatch/adapters/slurm/slurm-capacity.js';

/**
 * `gpumarket provider import-slurm --region R --block B --reserve-price P [--market URL --key KEY]`:
 * reads the Slurm cluster's nodes and GPU gres (`scontrol -o show node`) and registers them as
 * market nodes (`PUT /v1/nodes`). Without --market, or with --dry-run, it only prints the plan.
 * Exit codes: 0 done, 1 Slurm or the market failed, 2 bad usage.
 */
export const usage = `usage: gpumarket provider import-slurm --region REGION --block BLOCK --reserve-price PRICE
         [--market URL --key PROVIDER_KEY] [--dry-run] [--slurm-conf PATH]
         [--model GRES_TYPE=CATALOGUE_NAME]... [--partition NAME]...
`;

export async function run(argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv;
  if (subcommand !== 'import-slurm') {
    process.stderr.write(usage);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        region: { type: 'string' },
        block: { type: 'string' },
        'reserve-price': { type: 'string' },
        market: { type: 'string' },
        key: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'slurm-conf': { type: 'string' },
        model: { type: 'string', multiple: true },
        partition: { type: 'string', multiple: true },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`gpumarket provider: ${(error as Error).message}\n${usage}`);
    return 2;
  }
  const key = values.key ?? process.env.GPUMARKET_PROVIDER_KEY;
  const problems: string[] = [];
  if (!values.region) problems.push('--region is required');
  if (!values.block) problems.push('--block is required');
  if (!values['reserve-price'] || !/^\d+(\.\d{1,4})?$/.test(values['reserve-price'])) {
    problems.push('--reserve-price must be a decimal with at most 4 decimals');
  }
  if (values.market && !key) problems.push('--key (or GPUMARKET_PROVIDER_KEY) is required with --market');
  const models: Record<string, string> = {};
  for (const pair of values.model ?? []) {
    const [type, name] = pair.split('=');
    if (!type || !name) problems.push(`--model ${pair}: expected GRES_TYPE=CATALOGUE_NAME`);
    else models[type] = name;
  }
  if (problems.length > 0) {
    process.stderr.write(`gpumarket provider: ${problems.join('; ')}\n${usage}`);
    return 2;
  }

  try {
    const nodes = await readSlurmNodes(new SlurmCli({ slurmConf: values['slurm-conf'] }));
    const plan = planImport(nodes, {
      region: values.region!,
      block: values.block!,
      reservePrice: values['reserve-price']!,
      models,
      partitions: values.partition,
    });
    for (const skipped of plan.skipped) process.stderr.write(`skipped ${skipped.node}: ${skipped.reason}\n`);
    process.stdout.write(`${JSON.stringify({ nodes: plan.nodes }, null, 2)}\n`);
    if (values.market && !values['dry-run'] && plan.nodes.length > 0) {
      const client = new MarketClient(values.market, key!);
      for (let start = 0; start < plan.nodes.length; start += 1000) {
        await client.registerNodes(plan.nodes.slice(start, start + 1000));
      }
      process.stderr.write(`registered ${plan.nodes.length} node(s) with ${values.market}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`gpumarket provider import-slurm: ${(error as Error).message}\n`);
    return 1;
  }
}
