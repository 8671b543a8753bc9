import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, asksForHelp, main } from './commands.js';

afterEach(() => vi.restoreAllMocks());

function capture(): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  return { out, err };
}

describe('gpumarket --help', () => {
  it.each(Object.keys(COMMANDS))('`%s --help` prints only the usage on stdout and exits 0', async (name) => {
    const { out, err } = capture();
    expect(await main([name, '--help'])).toBe(0);
    expect(err.join('')).toBe('');
    expect(out.join('')).toMatch(new RegExp(`^usage: gpumarket ${name}\\b`));
    expect(out.join('')).not.toMatch(/Unknown option/);
  });

  it('takes -h too, and --help after other options or a subcommand', async () => {
    const { out, err } = capture();
    expect(await main(['simulate', '--seed', '3', '-h'])).toBe(0);
    expect(await main(['provider', 'import-slurm', '--help'])).toBe(0);
    expect(err.join('')).toBe('');
    expect(out.join('')).toMatch(/usage: gpumarket simulate[\s\S]*usage: gpumarket provider/);
  });

  it('leaves a --help after `--` to the command (it is an argument, not an option)', () => {
    expect(asksForHelp(['--scenario', 'x', '--', '--help'])).toBe(false);
    expect(asksForHelp(['--scenario', 'x', '--help'])).toBe(true);
  });

  it('lists the commands for `gpumarket --help` (exit 0) and for an unknown command (exit 2, on stderr)', async () => {
    const { out, err } = capture();
    expect(await main(['--help'])).toBe(0);
    expect(out.join('')).toMatch(/commands:[\s\S]*simulate/);
    expect(await main(['no-such-command'])).toBe(2);
    expect(err.join('')).toMatch(/commands:/);
  });
});

describe('gpumarket tenant commands', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('exits 2 naming a bad flag before reading any configuration', async () => {
    const { err } = capture();
    process.env.GPUMARKET_CONFIG = '/nonexistent/gpumarket.json';
    expect(
      await main(['bid', '--gpus', '8', '--offer', 'H100-SXM-80GB=2.5', '--runtime', '4h', '--contiguity', 'any']),
    ).toBe(2);
    expect(await main(['bids', '--colour'])).toBe(2);
    expect(await main(['quote', '--gpus', '8', '--runtime', '4h'])).toBe(2);
    expect(await main(['bid', 'show', 'b-1', '--gpus', '8'])).toBe(2);
    const text = err.join('');
    expect(text).toMatch(/gpumarket bid: --contiguity any: expected one of node, nvlink, block, none/);
    expect(text).toMatch(/gpumarket bids: Unknown option '--colour'/);
    expect(text).toMatch(/gpumarket quote: missing --offer/);
    expect(text).toMatch(/gpumarket bid: bid show takes no --gpus/);
  });

  it('exits 2 saying how to configure when there is no URL or key', async () => {
    const { err } = capture();
    delete process.env.GPUMARKET_URL;
    delete process.env.GPUMARKET_KEY;
    process.env.GPUMARKET_CONFIG = '/nonexistent/gpumarket.json';
    expect(await main(['prices'])).toBe(2);
    expect(err.join('')).toMatch(/GPUMARKET_CONFIG names \/nonexistent\/gpumarket.json, which does not exist/);
  });

  it('exits 6 when the service cannot be reached', async () => {
    const { err } = capture();
    // A port that was free a moment ago: nothing listens there.
    const server = createServer();
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    const { port } = server.address() as AddressInfo;
    await new Promise((closed) => server.close(closed));
    process.env.GPUMARKET_URL = `http://127.0.0.1:${port}`;
    process.env.GPUMARKET_KEY = 'k';
    expect(await main(['leases'])).toBe(6);
    expect(err.join('')).toContain(`gpumarket leases: cannot reach http://127.0.0.1:${port}: ECONNREFUSED`);
  });
});
