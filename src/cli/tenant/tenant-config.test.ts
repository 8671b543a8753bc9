import { mkdtemp, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configPath, loadTenantConfig, writeConfigFile } from './tenant-config.js';

const dir = () => mkdtemp(join(tmpdir(), 'gpumarket-config-'));

describe('tenant CLI configuration', () => {
  it('finds the file at $GPUMARKET_CONFIG, else under XDG_CONFIG_HOME or ~/.config', () => {
    expect(configPath({ GPUMARKET_CONFIG: '/x/c.json', HOME: '/home/a' })).toBe('/x/c.json');
    expect(configPath({ HOME: '/home/a' })).toBe('/home/a/.config/gpumarket/config.json');
    expect(configPath({ HOME: '/home/a', XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/gpumarket/config.json');
  });

  it('writes the file readable by its owner only, and reads it back', async () => {
    const path = join(await dir(), 'nested', 'config.json');
    await writeConfigFile(path, { url: 'http://localhost:3000', key: 'gm_secret' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ url: 'http://localhost:3000', key: 'gm_secret' });
    expect(await loadTenantConfig({ GPUMARKET_CONFIG: path })).toEqual({
      url: 'http://localhost:3000',
      key: 'gm_secret',
    });
  });

  it('tightens an existing file that was readable by others when it rewrites it', async () => {
    const path = join(await dir(), 'config.json');
    await writeFile(path, '{}', { mode: 0o644 });
    await writeConfigFile(path, { url: 'http://a', key: 'k' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('refuses a key file that group or others can read, saying how to fix it', async () => {
    const path = join(await dir(), 'config.json');
    await writeFile(path, JSON.stringify({ url: 'http://a', key: 'k' }));
    await chmod(path, 0o644);
    await expect(loadTenantConfig({ GPUMARKET_CONFIG: path })).rejects.toThrow(
      `${path} has mode 0644: it holds an API key, so it must be readable by its owner only (chmod 600 ${path})`,
    );
  });

  it('lets GPUMARKET_URL and GPUMARKET_KEY win over the file, each on its own', async () => {
    const path = join(await dir(), 'config.json');
    await writeConfigFile(path, { url: 'http://file', key: 'file-key' });
    expect(await loadTenantConfig({ GPUMARKET_CONFIG: path, GPUMARKET_KEY: 'env-key' })).toEqual({
      url: 'http://file',
      key: 'env-key',
    });
    expect(
      await loadTenantConfig({ GPUMARKET_CONFIG: '/nonexistent', GPUMARKET_URL: 'http://env/', GPUMARKET_KEY: 'k' }),
    ).toEqual({ url: 'http://env', key: 'k' });
  });

  it('names what is missing when there is neither variable nor file', async () => {
    const home = await dir();
    await expect(loadTenantConfig({ HOME: home })).rejects.toThrow(
      /no GPUMARKET_URL or GPUMARKET_KEY: set GPUMARKET_URL and GPUMARKET_KEY, or run 'gpumarket login/,
    );
    await expect(loadTenantConfig({ GPUMARKET_CONFIG: join(home, 'none.json') })).rejects.toThrow(
      /GPUMARKET_CONFIG names .* which does not exist/,
    );
    await expect(loadTenantConfig({ HOME: home, GPUMARKET_URL: 'ftp://x', GPUMARKET_KEY: 'k' })).rejects.toThrow(
      /GPUMARKET_URL "ftp:\/\/x" must be http or https/,
    );
  });
});
