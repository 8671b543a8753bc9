#!/usr/bin/env node
import 'reflect-metadata';

/**
 * `gpumarket <command> [options]`. Each command lives in its own file and is loaded only when
 * asked for, so `gpumarket clear` never loads NestJS or a database driver.
 */
type CommandModule = { run(argv: string[]): Promise<number> };

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  agent: { summary: 'run on a GPU node: register its GPUs, run the market\'s orders (docs/adapters.md)', load: () => import('./agent.command.js') },
  provider: { summary: 'provider tools: import-slurm registers a Slurm cluster\'s GPU nodes', load: () => import('./provider.command.js') },
  clear: { summary: 'clear one round snapshot file offline (docs/round-files.md)', load: () => import('./clear.command.js') },
  simulate: { summary: 'replay demand through the market and its baselines in virtual time', load: () => import('./simulate.command.js') },
  serve: { summary: 'run the HTTP API (embedded PostgreSQL when DATABASE_URL is unset)', load: () => import('./serve.command.js') },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    const list = Object.entries(commands)
      .map(([key, c]) => `  ${key.padEnd(10)} ${c.summary}`)
      .join('\n');
    process.stderr.write(`usage: gpumarket <command> [options]\n\ncommands:\n${list}\n`);
    return name && name !== '--help' && name !== 'help' ? 2 : 0;
  }
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
