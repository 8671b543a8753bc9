import { afterEach, describe, expect, it, vi } from 'vitest';
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
