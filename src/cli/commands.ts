/**
 * The command table of `gpumarket` and the dispatch to it. Each command lives in its own file
 * and is loaded only when asked for, so `gpumarket clear` never loads NestJS or a database
 * driver. Every command module exports its `usage`: `gpumarket <command> --help` (or `-h`)
 * prints it on stdout and exits 0, whatever else the command would make of its arguments.
 */
export type CommandModule = { run(argv: string[]): Promise<number>; readonly usage: string };

export const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  agent: {
    summary: "run on a GPU node: register its GPUs, run the market's orders (docs/adapters.md)",
    load: () => import('./agent.command.js'),
  },
  provider: {
    summary: "provider tools: import-slurm registers a Slurm cluster's GPU nodes",
    load: () => import('./provider.command.js'),
  },
  clear: {
    summary: 'clear one round snapshot file offline (docs/round-files.md)',
    load: () => import('./clear.command.js'),
  },
  simulate: {
    summary: 'replay demand through the market and its baselines in virtual time',
    load: () => import('./simulate.command.js'),
  },
  serve: {
    summary: 'run the HTTP API (embedded PostgreSQL when DATABASE_URL is unset)',
    load: () => import('./serve.command.js'),
  },
  // The tenant's commands (docs/cli.md): they talk to a running service over its REST API.
  login: {
    summary: 'save the service URL and your API key (~/.config/gpumarket/config.json, mode 0600)',
    load: async () => (await import('./tenant/login.command.js')).loginCommand,
  },
  bid: {
    summary: 'submit a bid for a GPU gang, or `bid show ID`',
    load: async () => (await import('./tenant/bid.command.js')).bidCommand,
  },
  bids: { summary: 'list your bids', load: async () => (await import('./tenant/bid.command.js')).bidsCommand },
  cancel: { summary: 'cancel a bid', load: async () => (await import('./tenant/bid.command.js')).cancelCommand },
  quote: {
    summary: 'what every option of a bid costs to win now (nothing is stored)',
    load: async () => (await import('./tenant/bid.command.js')).quoteCommand,
  },
  prices: {
    summary: "each pool's price index and node-price band",
    load: async () => (await import('./tenant/market.command.js')).pricesCommand,
  },
  leases: {
    summary: 'your leases: what your bids won',
    load: async () => (await import('./tenant/market.command.js')).leasesCommand,
  },
  charges: {
    summary: 'your charges and their total over a range',
    load: async () => (await import('./tenant/market.command.js')).chargesCommand,
  },
};

/** `--help` or `-h` among the options, that is before a `--` that ends them. */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    const list = Object.entries(COMMANDS)
      .map(([key, c]) => `  ${key.padEnd(10)} ${c.summary}`)
      .join('\n');
    const usage = `usage: gpumarket <command> [options]\n\ncommands:\n${list}\n\n'gpumarket <command> --help' describes a command.\n`;
    const help = !name || name === '--help' || name === '-h' || name === 'help';
    (help ? process.stdout : process.stderr).write(usage);
    return help ? 0 : 2;
  }
  const module = await command.load();
  if (asksForHelp(rest)) {
    process.stdout.write(`${module.usage.trimEnd()}\n`);
    return 0;
  }
  return module.run(rest);
}
