import { chmod, mkdir, open, stat, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from './tenant-errors.js';

/** Where the tenant commands find the service and the key. */
export interface TenantConfig {
  readonly url: string;
  readonly key: string;
}

/** $GPUMARKET_CONFIG, else ~/.config/gpumarket/config.json (XDG_CONFIG_HOME respected). */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GPUMARKET_CONFIG) return env.GPUMARKET_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'gpumarket', 'config.json');
}

/**
 * The file holds an API key, so it must be readable by its owner only: a key that others on
 * the machine can read is refused (as ssh refuses a private key), not silently used.
 */
export async function readConfigFile(path: string): Promise<Partial<TenantConfig> | null> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new UsageError(
      `${path} has mode ${mode}: it holds an API key, so it must be readable by its owner only (chmod 600 ${path})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`${path} must hold a JSON object {"url", "key"}`);
  const { url, key } = parsed as Record<string, unknown>;
  if (url !== undefined && typeof url !== 'string') throw new UsageError(`${path}: "url" must be a string`);
  if (key !== undefined && typeof key !== 'string') throw new UsageError(`${path}: "key" must be a string`);
  return { url, key };
}

/** An http(s) URL without a trailing slash, so paths join onto it. */
export function normaliseUrl(url: string, source: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${source} ${JSON.stringify(url)} is not a URL (expected e.g. http://localhost:3000)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`${source} ${JSON.stringify(url)} must be http or https`);
  return url.replace(/\/+$/, '');
}

/**
 * GPUMARKET_URL and GPUMARKET_KEY win over the file, each on its own; the file is read only when
 * one of them is missing (so a file with wrong rights does not stop a run that names both).
 */
export async function loadTenantConfig(env: NodeJS.ProcessEnv = process.env): Promise<TenantConfig> {
  let url = env.GPUMARKET_URL || undefined;
  let key = env.GPUMARKET_KEY || undefined;
  const path = configPath(env);
  if (!url || !key) {
    const file = await readConfigFile(path);
    if (file === null && env.GPUMARKET_CONFIG)
      throw new UsageError(`GPUMARKET_CONFIG names ${path}, which does not exist`);
    url ??= file?.url;
    key ??= file?.key;
  }
  const missing = [!url && 'GPUMARKET_URL', !key && 'GPUMARKET_KEY'].filter(Boolean);
  if (missing.length > 0) {
    throw new UsageError(
      `no ${missing.join(' or ')}: set ${missing.join(' and ')}, or run 'gpumarket login --url URL --key KEY' (writes ${path})`,
    );
  }
  return { url: normaliseUrl(url!, env.GPUMARKET_URL ? 'GPUMARKET_URL' : `"url" in ${path}`), key: key! };
}

/**
 * Writes the file with mode 0600 from its creation (never briefly readable by others), and
 * chmods an existing file too, since open()'s mode applies only to a new one.
 */
export async function writeConfigFile(path: string, config: TenantConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${JSON.stringify({ url: config.url, key: config.key }, null, 2)}\n`);
  } finally {
    await handle.close();
  }
  await chmod(path, 0o600);
}
