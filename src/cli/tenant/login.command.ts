import { TenantClient } from './tenant-client.js';
import { configPath, normaliseUrl, writeConfigFile } from './tenant-config.js';
import { expectPositionals, tenantCommand } from './tenant-command.js';
import { UsageError } from './tenant-errors.js';

/**
 * `gpumarket login --url URL --key KEY`: checks the pair against the service (GET
 * /v1/market/prices, which any valid key may read) and writes the config file with mode 0600.
 */
export const loginCommand = tenantCommand<{ url?: string; key?: string; 'no-verify'?: boolean }>(
  'login',
  `usage: gpumarket login --url URL --key API_KEY [--no-verify]

Writes the URL and key to $GPUMARKET_CONFIG or ~/.config/gpumarket/config.json, readable by
you only (mode 0600), after checking them against the service.
  --url URL       the service, e.g. https://market.example.com
  --key API_KEY   your tenant API key ('-' reads it from stdin, which keeps it out of 'ps')
  --no-verify     write without asking the service
`,
  { url: { type: 'string' }, key: { type: 'string' }, 'no-verify': { type: 'boolean' } },
  async (context) => {
    expectPositionals(context.positionals, []);
    const missing = (['url', 'key'] as const).filter((name) => !context.values[name]).map((name) => `--${name}`);
    if (missing.length > 0) throw new UsageError(`missing ${missing.join(', ')}`);
    const url = normaliseUrl(context.values.url!, '--url');
    const key = context.values.key === '-' ? (await readStdin()).trim() : context.values.key!;
    if (!key) throw new UsageError('--key: empty key');
    if (!context.values['no-verify']) await new TenantClient({ url, key }).get('/v1/market/prices');
    const path = configPath();
    await writeConfigFile(path, { url, key });
    context.note(`wrote ${path} (mode 0600)`);
  },
);

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
