import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has working defaults with nothing set: embedded database, in-process jobs, generated admin key', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: null,
      redisUrl: null,
      adminApiKey: null,
      roundPeriodSeconds: 60,
      marketFeePercent: '0',
      preemptionNoticeSeconds: 120,
      minHoldSeconds: 600,
      dataDir: '/srv/app/.data',
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgresql://u@db:5432/market',
      REDIS_URL: 'redis://cache:6379',
      ADMIN_API_KEY: 'a'.repeat(32),
      ROUND_PERIOD_SECONDS: '30',
      MARKET_FEE_PERCENT: '2.5',
      PREEMPTION_NOTICE_SECONDS: '60',
      MIN_HOLD_SECONDS: '300',
      DATA_DIR: '/var/lib/gpumarket',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgresql://u@db:5432/market',
      redisUrl: 'redis://cache:6379',
      roundPeriodSeconds: 30,
      marketFeePercent: '2.5',
      dataDir: '/var/lib/gpumarket',
    });
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['REDIS_URL', 'http://cache'],
    ['ADMIN_API_KEY', 'short'],
    ['ROUND_PERIOD_SECONDS', '0'],
    ['ROUND_PERIOD_SECONDS', '1.5'],
    ['MARKET_FEE_PERCENT', '101'],
    ['MARKET_FEE_PERCENT', '-1'],
    ['PREEMPTION_NOTICE_SECONDS', '-5'],
    ['MIN_HOLD_SECONDS', 'soon'],
    ['LOG_LEVEL', 'chatty'],
  ])('stops on %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`\\b${name}\\b`));
  });

  it('reports every bad variable at once', () => {
    try {
      loadConfig({ PORT: 'x', REDIS_URL: 'nope' });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.split(/[=:]/)[0])).toEqual(['PORT', 'REDIS_URL']);
    }
  });
});
