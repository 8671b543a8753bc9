import { afterEach, describe, expect, it, vi } from 'vitest';
import { configVariables } from '../platform/config/config.js';
import { run } from './serve.command.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  vi.restoreAllMocks();
});

describe('gpumarket serve', () => {
  it('stops before starting anything when a variable is bad, naming each bad variable', async () => {
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    process.env.PORT = 'eighty';
    process.env.DATABASE_URL = 'mysql://db/market';
    process.env.MARKET_FEE_PERCENT = '150';
    expect(await run([])).toBe(78);
    const message = stderr.join('');
    expect(message).toMatch(/PORT="eighty"/);
    expect(message).toMatch(/DATABASE_URL/);
    expect(message).toMatch(/MARKET_FEE_PERCENT="150"/);
  });
});

describe('gpumarket serve --help', () => {
  it('lists every configuration variable the service reads, with its default', async () => {
    const stdout: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    expect(await run(['--help'])).toBe(0);
    const help = stdout.join('');
    const variables = configVariables();
    expect(variables.length).toBeGreaterThanOrEqual(40);
    for (const variable of variables) {
      const line = help.split('\n').find((l) => l.trim().split('=')[0] === variable.name);
      expect(line, `${variable.name} in serve --help`).toBeDefined();
      if (variable.default !== 'unset') expect(line).toContain(`=${variable.default}`);
    }
  });
});
