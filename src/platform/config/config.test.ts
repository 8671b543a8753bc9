import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      retentionDays: 30,
    });
    expect(loadConfig({ RETENTION_DAYS: '0' }).retentionDays).toBe(0);
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
    ['WEBHOOK_SECRET_KEY', 'not-a-key'],
    ['WEBHOOK_SECRET_KEY', 'ab'.repeat(31)],
    ['WEBHOOK_ALLOW_PRIVATE_TARGETS', 'yes'],
    ['WEBHOOK_TIMEOUT_MS', '5'],
    ['WEBHOOK_RETRY_WINDOW_SECONDS', '0'],
    ['WEBHOOK_CONCURRENCY', '0'],
    ['WEBHOOK_ENDPOINT_CONCURRENCY', '0'],
    ['RETENTION_DAYS', '-1'],
    ['RETENTION_DAYS', 'a month'],
    ['HEARTBEAT_UNREACHABLE_SECONDS', '0'],
    ['HEARTBEAT_UNREACHABLE_SECONDS', '45s'],
    ['PLACEMENT_START_TIMEOUT_SECONDS', '0'],
    ['PLACEMENT_START_TIMEOUT_SECONDS', '604801'],
  ])('stops on %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`\\b${name}\\b`));
  });

  it('fences silent nodes after 45 s and times placements out after 600 s unless told otherwise', () => {
    expect(loadConfig({})).toMatchObject({ heartbeatUnreachableSeconds: 45, placementStartTimeoutSeconds: 600 });
    expect(loadConfig({ HEARTBEAT_UNREACHABLE_SECONDS: '90', PLACEMENT_START_TIMEOUT_SECONDS: '1800' })).toMatchObject({
      heartbeatUnreachableSeconds: 90,
      placementStartTimeoutSeconds: 1800,
    });
  });

  it('reports every bad variable at once', () => {
    try {
      loadConfig({ PORT: 'x', REDIS_URL: 'nope' });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.split(/[=:]/)[0])).toEqual(['PORT', 'REDIS_URL']);
    }
  });

  it('webhooks: safe defaults, no key, private targets refused', () => {
    expect(loadConfig({}).webhooks).toEqual({
      secretKey: null,
      previousSecretKey: null,
      allowPrivateTargets: false,
      timeoutMs: 5_000,
      retryBaseMs: 5_000,
      retryMaxMs: 3_600_000,
      retryWindowSeconds: 86_400,
      disableAfterFailures: 20,
      disableAfterSeconds: 259_200,
      secretGraceSeconds: 86_400,
      concurrency: 16,
      endpointConcurrency: 4,
    });
  });

  it('webhooks: reads the key as hex or base64, the same 32 bytes either way', () => {
    const key = Buffer.alloc(32, 7);
    const hex = loadConfig({ WEBHOOK_SECRET_KEY: key.toString('hex'), WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }).webhooks;
    const base64 = loadConfig({
      WEBHOOK_SECRET_KEY: key.toString('base64'),
      WEBHOOK_SECRET_KEY_PREVIOUS: Buffer.alloc(32, 8).toString('base64url'),
    }).webhooks;
    expect(hex.secretKey?.equals(key)).toBe(true);
    expect(hex.allowPrivateTargets).toBe(true);
    expect(base64.secretKey?.equals(key)).toBe(true);
    expect(base64.previousSecretKey?.equals(Buffer.alloc(32, 8))).toBe(true);
  });

  it('webhooks: refuses a previous key without a current one, and a retry cap below the base', () => {
    expect(() => loadConfig({ WEBHOOK_SECRET_KEY_PREVIOUS: 'ab'.repeat(32) })).toThrow(/WEBHOOK_SECRET_KEY_PREVIOUS/);
    expect(() => loadConfig({ WEBHOOK_RETRY_BASE_MS: '5000', WEBHOOK_RETRY_MAX_MS: '1000' })).toThrow(
      /WEBHOOK_RETRY_MAX_MS/,
    );
  });

  it('passes the Slurm submission settings to the adapter, and stops naming the variable of a bad one', () => {
    const bin = mkdtempSync(join(tmpdir(), 'slurm-bin-'));
    writeFileSync(join(bin, 'sbatch'), '');
    const config = loadConfig({
      SLURM_BIN_DIR: bin,
      SLURM_QOS: 'market',
      SLURM_CPUS_PER_GPU: '12',
      SLURM_GRES_TYPES: 'H100-SXM-80GB=h100',
    });
    expect(config.slurm).toMatchObject({
      binDir: bin,
      qos: 'market',
      cpusPerGpu: 12,
      gresTypes: { 'H100-SXM-80GB': 'h100' },
    });
    expect(() => loadConfig({ SLURM_BIN_DIR: bin, SLURM_CPUS_PER_GPU: 'twelve' })).toThrow(/SLURM_CPUS_PER_GPU/);
    expect(() => loadConfig({ SLURM_BIN_DIR: bin, SLURM_WORK_DIR: 'relative/dir' })).toThrow(/SLURM_WORK_DIR/);
  });

  it('takes the clearing solver threads, 0 for none', () => {
    expect(loadConfig({ CLEARING_SOLVER_THREADS: '0' }).clearingSolverThreads).toBe(0);
    expect(loadConfig({}).clearingSolverThreads).toBeGreaterThanOrEqual(1);
    expect(() => loadConfig({ CLEARING_SOLVER_THREADS: 'all' })).toThrow(/CLEARING_SOLVER_THREADS/);
  });
});
