import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * The service's configuration, read once from the environment and validated before anything
 * starts: a bad value stops the process with a message naming the variable, instead of
 * surfacing later as a confusing runtime error.
 */
export interface AppConfig {
  readonly port: number;
  /** Null: run an embedded PostgreSQL (PGlite) with its data in `dataDir`. */
  readonly databaseUrl: string | null;
  /** Null: jobs run in-process. */
  readonly redisUrl: string | null;
  /** Null: generate an admin key at first start and print it once. */
  readonly adminApiKey: string | null;
  readonly roundPeriodSeconds: number;
  readonly marketFeePercent: string;
  readonly preemptionNoticeSeconds: number;
  readonly minHoldSeconds: number;
  readonly dataDir: string;
  /** Per GPU-hour, charged in the clearing objective for each GPU of a displaced lease. */
  readonly preemptionPenalty: string;
  /** Hard budget of the clearing solver in one round. */
  readonly roundTimeLimitMs: number;
  /** Namespace of the job queues in Redis (lets several markets, or test files, share one Redis). */
  readonly queuePrefix: string;
  /** Simulated fleets finish workloads this many times faster than the clock (demos). */
  readonly simulatedTimeScale: number;
  /** Seed a demo fleet with a simulated provider on first start; `auto`: only on the embedded database. */
  readonly demoFleet: 'auto' | 'true' | 'false';
  /** How long a resolved API key is cached in memory; revocation takes effect within this. */
  readonly apiKeyCacheSeconds: number;
  readonly logLevel: 'error' | 'warn' | 'log' | 'debug';
  /** The longest range a finance report covers; longer requests are refused as invalid. */
  readonly reportMaxSpanDays: number;
  /** Tries of an order to a provider adapter before it is dead-lettered (the first included). */
  readonly orderRetryAttempts: number;
  /** First retry delay of an order; doubles on each further retry. */
  readonly orderRetryBackoffMs: number;
  /** A bid whose leases failed for the platform's reasons this many times fails (`too_many_failures`). */
  readonly maxPlatformFailuresPerBid: number;
  /** How often the market re-sends the terminate of a workload it failed to stop. */
  readonly stopRetrySeconds: number;
  /** The Slurm adapter's cluster; null (SLURM_BIN_DIR unset): slurm providers cannot be served. */
  readonly slurm: SlurmConfig | null;
  /** The Kubernetes adapter's cluster; null (KUBE_NAMESPACE unset): kubernetes providers cannot be served. */
  readonly kubernetes: KubernetesConfig | null;
}

export interface SlurmConfig {
  /** Directory holding sbatch, squeue, scontrol and scancel. */
  readonly binDir: string;
  readonly partition?: string;
  readonly account?: string;
  /** slurm.conf of the cluster; else the host's default. */
  readonly slurmConf?: string;
}

export interface KubernetesConfig {
  readonly namespace: string;
  /** Kubeconfig file; null: the default (in-cluster service account, else ~/.kube/config). */
  readonly kubeconfig: string | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  decimal(name: string, fallback: string, min: number, max: number): string {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    if (!/^\d+(\.\d{1,4})?$/.test(text) || Number(text) < min || Number(text) > max) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be a decimal from ${min} to ${max} with at most 4 decimals`);
      return fallback;
    }
    return text;
  }

  url(name: string, protocols: readonly string[]): string | null {
    const text = this.raw(name);
    if (text === undefined) return null;
    let parsed: URL | undefined;
    try {
      parsed = new URL(text);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !protocols.includes(parsed.protocol)) {
      this.problems.push(`${name}: must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      return null;
    }
    return text;
  }

  secret(name: string, minLength: number): string | null {
    const text = this.raw(name);
    if (text === undefined) return null;
    if (text.length < minLength) {
      this.problems.push(`${name}: must be at least ${minLength} characters`);
      return null;
    }
    return text;
  }

  choice<T extends string>(name: string, fallback: T, choices: readonly T[]): T {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    if (!choices.includes(text as T)) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be one of ${choices.join(', ')}`);
      return fallback;
    }
    return text as T;
  }

  identifier(name: string, fallback: string): string {
    const text = this.raw(name);
    if (text === undefined) return fallback;
    if (!/^[A-Za-z0-9:_-]{1,64}$/.test(text)) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be 1-64 letters, digits, ':', '_' or '-'`);
      return fallback;
    }
    return text;
  }

  /** An existing file or directory; undefined when unset. */
  existingPath(name: string, kind: 'file' | 'directory', cwd: string, mustContain?: string): string | undefined {
    const text = this.raw(name);
    if (text === undefined) return undefined;
    const path = isAbsolute(text) ? text : resolve(cwd, text);
    const found = existsSync(path) && (kind === 'file' ? statSync(path).isFile() : statSync(path).isDirectory());
    if (!found || (mustContain && !existsSync(join(path, mustContain)))) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be an existing ${kind}${mustContain ? ` holding ${mustContain}` : ''}`);
      return undefined;
    }
    return path;
  }

  /** A Slurm partition or account name, a Kubernetes namespace: a plain name. */
  name(name: string): string | undefined {
    const text = this.raw(name);
    if (text === undefined) return undefined;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(text)) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be 1-63 letters, digits, '.', '_' or '-'`);
      return undefined;
    }
    return text;
  }

  path(name: string, fallback: string, cwd: string): string {
    const text = this.raw(name) ?? fallback;
    return isAbsolute(text) ? text : resolve(cwd, text);
  }
}

/** Reads and validates the configuration; throws ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): AppConfig {
  const read = new Reader(env);
  const config: AppConfig = {
    port: read.integer('PORT', 3000, 0, 65535),
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    adminApiKey: read.secret('ADMIN_API_KEY', 24),
    roundPeriodSeconds: read.integer('ROUND_PERIOD_SECONDS', 60, 1, 86_400),
    marketFeePercent: read.decimal('MARKET_FEE_PERCENT', '0', 0, 100),
    preemptionNoticeSeconds: read.integer('PREEMPTION_NOTICE_SECONDS', 120, 0, 86_400),
    minHoldSeconds: read.integer('MIN_HOLD_SECONDS', 600, 0, 7 * 86_400),
    dataDir: read.path('DATA_DIR', '.data', cwd),
    preemptionPenalty: read.decimal('PREEMPTION_PENALTY', '0.50', 0, 1_000_000),
    roundTimeLimitMs: read.integer('ROUND_TIME_LIMIT_MS', 10_000, 50, 600_000),
    queuePrefix: read.identifier('QUEUE_PREFIX', 'gpumarket'),
    simulatedTimeScale: read.integer('SIMULATED_TIME_SCALE', 1, 1, 10_000),
    demoFleet: read.choice('DEMO_FLEET', 'auto', ['auto', 'true', 'false'] as const),
    apiKeyCacheSeconds: read.integer('API_KEY_CACHE_SECONDS', 10, 0, 3600),
    logLevel: read.choice('LOG_LEVEL', 'log', ['error', 'warn', 'log', 'debug'] as const),
    reportMaxSpanDays: read.integer('REPORT_MAX_SPAN_DAYS', 92, 1, 3660),
    orderRetryAttempts: read.integer('ORDER_RETRY_ATTEMPTS', 6, 1, 50),
    orderRetryBackoffMs: read.integer('ORDER_RETRY_BACKOFF_MS', 1_000, 1, 600_000),
    maxPlatformFailuresPerBid: read.integer('MAX_PLATFORM_FAILURES_PER_BID', 3, 1, 1_000),
    stopRetrySeconds: read.integer('STOP_RETRY_SECONDS', 60, 1, 86_400),
    slurm: slurmConfig(read, cwd),
    kubernetes: kubernetesConfig(read, cwd),
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

// SLURM_CONF and KUBECONFIG are the tools' own variables and may be set on hosts that do not use
// these adapters, so they are checked only when the adapter is enabled.
function slurmConfig(read: Reader, cwd: string): SlurmConfig | null {
  const binDir = read.existingPath('SLURM_BIN_DIR', 'directory', cwd, 'sbatch');
  if (binDir === undefined) return null;
  const partition = read.name('SLURM_PARTITION');
  const account = read.name('SLURM_ACCOUNT');
  const slurmConf = read.existingPath('SLURM_CONF', 'file', cwd);
  return { binDir, ...(partition ? { partition } : {}), ...(account ? { account } : {}), ...(slurmConf ? { slurmConf } : {}) };
}

function kubernetesConfig(read: Reader, cwd: string): KubernetesConfig | null {
  const namespace = read.name('KUBE_NAMESPACE');
  if (namespace === undefined) return null;
  return { namespace, kubeconfig: read.existingPath('KUBECONFIG', 'file', cwd) ?? null };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
