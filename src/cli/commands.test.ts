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
