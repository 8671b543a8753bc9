import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
// The Slurm adapter's settings reader is pure and shared with the adapter, which checks the same
// rules at construction; the config reads it so that a bad value stops the service at start.
// eslint-disable-next-line no-restricted-imports
import {
  readSlurmSettings,
  SLURM_SETTING_RULES,
  type SlurmSettings,
} from '../../modules/dispatch/adapters/slurm/slurm-settings.js';

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
  /** Worker threads solving the MIP phase's parts beside the clearing thread. */
  readonly clearingSolverThreads: number;
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
  /** A node whose agent has been heard from is fenced after this long without a heartbeat or poll. */
  readonly heartbeatUnreachableSeconds: number;
  /** A placed lease whose workload is not running after this long fails with `start_timeout`. */
  readonly placementStartTimeoutSeconds: number;
  /** Accept service replica endpoints on loopback addresses from node agents (single-host demos and tests). */
  readonly agentEndpointsAllowLoopback: boolean;
  /**
   * Days that finished webhook deliveries (with their attempts) and tenants' events are kept;
   * 0 keeps them forever. Rounds, prices, leases and the ledger are never deleted.
   */
  readonly retentionDays: number;
  /** The Slurm adapter's cluster; null (SLURM_BIN_DIR unset): slurm providers cannot be served. */
  readonly slurm: SlurmConfig | null;
  /** The Kubernetes adapter's cluster; null (KUBE_NAMESPACE unset): kubernetes providers cannot be served. */
  readonly kubernetes: KubernetesConfig | null;
  readonly webhooks: WebhookConfig;
}

export interface WebhookConfig {
  /**
   * AES-256-GCM key for endpoint secrets at rest. Null: on the embedded database a key is
   * generated into DATA_DIR at first start; with DATABASE_URL the webhook API answers 503.
   */
  readonly secretKey: Buffer | null;
  /** The key before the last change of WEBHOOK_SECRET_KEY: secrets under it are re-encrypted at start-up. */
  readonly previousSecretKey: Buffer | null;
  /** Lets endpoints on private, loopback and link-local addresses through (tests, demos on one host). */
  readonly allowPrivateTargets: boolean;
  /** One attempt's budget: connect, send, and the whole answer. */
  readonly timeoutMs: number;
  /** First retry delay; doubles per failed attempt up to retryMaxMs, with jitter. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** How long after its event a delivery is retried before it is marked failed. */
  readonly retryWindowSeconds: number;
  /** An endpoint is disabled once it has failed this many attempts in a row ... */
  readonly disableAfterFailures: number;
  /** ... over at least this long, with no success in between. */
  readonly disableAfterSeconds: number;
  /** How long the previous secret still signs after a rotation, unless the request says otherwise. */
  readonly secretGraceSeconds: number;
  /** Deliveries one process sends at once. */
  readonly concurrency: number;
  /** Attempts in flight to one endpoint at once, so a slow endpoint cannot hold up the others. */
  readonly endpointConcurrency: number;
}

export interface SlurmConfig extends SlurmSettings {
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

/** A variable as the reader met it: the schema that `serve --help` and docs/operations.md show. */
export interface VariableUse {
  readonly name: string;
  /** What it is when unset, as an operator would write it; 'unset' when unset means off or generated. */
  readonly default: string;
  /** The values it accepts. */
  readonly rule: string;
}

/**
 * Reads variables and records each one it is asked for, with its default and rule, so that the
 * one list of variables is the code that reads them. Describing (`describing`), it reads an
 * empty environment and lets every optional section through, so that every variable is met.
 */
class Reader {
  readonly problems: string[] = [];
  readonly uses: VariableUse[] = [];
  constructor(
    private readonly env: Env,
    private readonly describing = false,
  ) {}

  private raw(name: string, fallback: string | number | null, rule: string): string | undefined {
    if (!this.uses.some((u) => u.name === name))
      this.uses.push({ name, default: fallback === null ? 'unset' : String(fallback), rule });
    if (this.describing) return undefined;
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  /** `shownDefault`: the default as the docs state it, for one that depends on the host. */
  integer(name: string, fallback: number, min: number, max: number, shownDefault?: string): number {
    const text = this.raw(name, shownDefault ?? fallback, `whole number, ${min}-${max}`);
    if (text === undefined) return fallback;
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  decimal(name: string, fallback: string, min: number, max: number): string {
    const text = this.raw(name, fallback, `decimal, ${min}-${max}, at most 4 decimals`);
    if (text === undefined) return fallback;
    if (!/^\d+(\.\d{1,4})?$/.test(text) || Number(text) < min || Number(text) > max) {
      this.problems.push(
        `${name}=${JSON.stringify(text)}: must be a decimal from ${min} to ${max} with at most 4 decimals`,
      );
      return fallback;
    }
    return text;
  }

  url(name: string, protocols: readonly string[]): string | null {
    const text = this.raw(name, null, `URL, ${protocols.map((p) => `${p}//`).join(' or ')}`);
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
    const text = this.raw(name, null, `secret, at least ${minLength} characters`);
    if (text === undefined) return null;
    if (text.length < minLength) {
      this.problems.push(`${name}: must be at least ${minLength} characters`);
      return null;
    }
    return text;
  }

  /** A 256-bit key: 64 hex digits, or base64 / base64url of 32 bytes. */
  key256(name: string): Buffer | null {
    const text = this.raw(name, null, '32 bytes: 64 hex digits or base64');
    if (text === undefined) return null;
    const key = /^[0-9a-f]{64}$/i.test(text)
      ? Buffer.from(text, 'hex')
      : /^[A-Za-z0-9+/_-]{43}=?$/.test(text)
        ? Buffer.from(text, 'base64')
        : null;
    if (key === null || key.length !== 32) {
      this.problems.push(
        `${name}: must be 32 bytes written as 64 hex digits or in base64 (e.g. \`openssl rand -hex 32\`)`,
      );
      return null;
    }
    return key;
  }

  choice<T extends string>(name: string, fallback: T, choices: readonly T[]): T {
    const text = this.raw(name, fallback, choices.join(', '));
    if (text === undefined) return fallback;
    if (!choices.includes(text as T)) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be one of ${choices.join(', ')}`);
      return fallback;
    }
    return text as T;
  }

  identifier(name: string, fallback: string): string {
    const text = this.raw(name, fallback, "1-64 letters, digits, ':', '_', '-'");
    if (text === undefined) return fallback;
    if (!/^[A-Za-z0-9:_-]{1,64}$/.test(text)) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be 1-64 letters, digits, ':', '_' or '-'`);
      return fallback;
    }
    return text;
  }

  /** An existing file or directory; undefined when unset. */
  existingPath(name: string, kind: 'file' | 'directory', cwd: string, mustContain?: string): string | undefined {
    const text = this.raw(name, null, `path of an existing ${kind}${mustContain ? ` holding ${mustContain}` : ''}`);
    if (this.describing) return `<${name}>`;
    if (text === undefined) return undefined;
    const path = isAbsolute(text) ? text : resolve(cwd, text);
    const found = existsSync(path) && (kind === 'file' ? statSync(path).isFile() : statSync(path).isDirectory());
    if (!found || (mustContain && !existsSync(join(path, mustContain)))) {
      this.problems.push(
        `${name}=${JSON.stringify(text)}: must be an existing ${kind}${mustContain ? ` holding ${mustContain}` : ''}`,
      );
      return undefined;
    }
    return path;
  }

  /** A Slurm partition or account name, a Kubernetes namespace: a plain name. */
  name(name: string): string | undefined {
    const text = this.raw(name, null, "1-63 letters, digits, '.', '_', '-'");
    if (this.describing) return `<${name}>`;
    if (text === undefined) return undefined;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(text)) {
      this.problems.push(`${name}=${JSON.stringify(text)}: must be 1-63 letters, digits, '.', '_' or '-'`);
      return undefined;
    }
    return text;
  }

  /** A variable checked by the code that uses it (read, recorded for the docs, passed on as is). */
  text(name: string, rule: string): string | undefined {
    return this.raw(name, null, rule);
  }

  path(name: string, fallback: string, cwd: string): string {
    const text = this.raw(name, fallback, 'path, relative to the working directory or absolute') ?? fallback;
    return isAbsolute(text) ? text : resolve(cwd, text);
  }
}

/** One thread per core beside the clearing thread, which is a lane of its own. */
function defaultSolverThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** Reads and validates the configuration; throws ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): AppConfig {
  const read = new Reader(env);
  const config = readConfig(read, cwd);
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

/** Every variable the configuration reads, in the order it reads them, with default and rule. */
export function configVariables(): VariableUse[] {
  const read = new Reader({}, true);
  readConfig(read, '.');
  return read.uses;
}

function readConfig(read: Reader, cwd: string): AppConfig {
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
    clearingSolverThreads: read.integer('CLEARING_SOLVER_THREADS', defaultSolverThreads(), 0, 256, 'cores - 1'),
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
    heartbeatUnreachableSeconds: read.integer('HEARTBEAT_UNREACHABLE_SECONDS', 45, 1, 86_400),
    placementStartTimeoutSeconds: read.integer('PLACEMENT_START_TIMEOUT_SECONDS', 600, 1, 604_800),
    agentEndpointsAllowLoopback:
      read.choice('AGENT_ENDPOINTS_ALLOW_LOOPBACK', 'false', ['true', 'false'] as const) === 'true',
    retentionDays: read.integer('RETENTION_DAYS', 30, 0, 36_500),
    slurm: slurmConfig(read, cwd),
    kubernetes: kubernetesConfig(read, cwd),
    webhooks: webhookConfig(read),
  };
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
  // Submission settings are checked by the adapter's own reader; the config records and passes them.
  const env = Object.fromEntries(
    Object.entries(SLURM_SETTING_RULES).map(([name, rule]) => [name, read.text(name, rule)]),
  );
  const { settings, problems } = readSlurmSettings(env);
  read.problems.push(...problems);
  return {
    binDir,
    ...(partition ? { partition } : {}),
    ...(account ? { account } : {}),
    ...(slurmConf ? { slurmConf } : {}),
    ...settings,
  };
}

function kubernetesConfig(read: Reader, cwd: string): KubernetesConfig | null {
  const namespace = read.name('KUBE_NAMESPACE');
  if (namespace === undefined) return null;
  return { namespace, kubeconfig: read.existingPath('KUBECONFIG', 'file', cwd) ?? null };
}

function webhookConfig(read: Reader): WebhookConfig {
  const secretKey = read.key256('WEBHOOK_SECRET_KEY');
  const previousSecretKey = read.key256('WEBHOOK_SECRET_KEY_PREVIOUS');
  if (previousSecretKey && !secretKey)
    read.problems.push('WEBHOOK_SECRET_KEY_PREVIOUS: needs WEBHOOK_SECRET_KEY, the key secrets are re-encrypted under');
  const retryBaseMs = read.integer('WEBHOOK_RETRY_BASE_MS', 5_000, 10, 3_600_000);
  const retryMaxMs = read.integer('WEBHOOK_RETRY_MAX_MS', 3_600_000, 10, 86_400_000);
  if (retryMaxMs < retryBaseMs)
    read.problems.push(`WEBHOOK_RETRY_MAX_MS=${retryMaxMs}: must be at least WEBHOOK_RETRY_BASE_MS (${retryBaseMs})`);
  return {
    secretKey,
    previousSecretKey,
    allowPrivateTargets: read.choice('WEBHOOK_ALLOW_PRIVATE_TARGETS', 'false', ['true', 'false'] as const) === 'true',
    timeoutMs: read.integer('WEBHOOK_TIMEOUT_MS', 5_000, 100, 60_000),
    retryBaseMs,
    retryMaxMs,
    retryWindowSeconds: read.integer('WEBHOOK_RETRY_WINDOW_SECONDS', 86_400, 1, 7 * 86_400),
    disableAfterFailures: read.integer('WEBHOOK_DISABLE_AFTER_FAILURES', 20, 1, 1_000_000),
    disableAfterSeconds: read.integer('WEBHOOK_DISABLE_AFTER_SECONDS', 3 * 86_400, 0, 30 * 86_400),
    secretGraceSeconds: read.integer('WEBHOOK_SECRET_GRACE_SECONDS', 86_400, 0, 7 * 86_400),
    concurrency: read.integer('WEBHOOK_CONCURRENCY', 16, 1, 256),
    endpointConcurrency: read.integer('WEBHOOK_ENDPOINT_CONCURRENCY', 4, 1, 256),
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
