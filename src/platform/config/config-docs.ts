import { configVariables } from './config.js';

/**
 * What each variable means, for `gpumarket serve --help` and the table in docs/operations.md.
 * Names, defaults and accepted values come from the code that reads the variables
 * (config.ts), so the help and the docs list every variable the service reads, and a test
 * holds docs/operations.md to exactly the table generated here (`npm run docs:config`).
 */
const MEANINGS: Readonly<Record<string, string>> = {
  PORT: 'HTTP port',
  DATABASE_URL: '`postgresql://…`. Unset: embedded PostgreSQL (PGlite) in `DATA_DIR/postgres`',
  REDIS_URL: '`redis://…`. Unset: jobs run in-process through the same handlers BullMQ workers run',
  ADMIN_API_KEY:
    'at least 24 characters; this key is an admin key. Unset: one is generated at first start and printed once',
  ROUND_PERIOD_SECONDS: 'period of the clearing round',
  MARKET_FEE_PERCENT: 'platform fee, 0-100, up to 4 decimals',
  PREEMPTION_NOTICE_SECONDS: 'notice a displaced lease gets',
  MIN_HOLD_SECONDS: 'protected minimum run of a lease',
  DATA_DIR: 'where the embedded database keeps its files',
  API_KEY_CACHE_SECONDS:
    'how long a resolved API key is cached: a key revoked or rotated through another replica still works here for at most this long (at once on the replica that revoked it; an expired key is refused from its expiry everywhere); 0 turns the cache off',
  LOG_LEVEL: '`error`, `warn`, `log` or `debug`',
  PREEMPTION_PENALTY:
    'per GPU-hour, charged in the clearing objective for every GPU of a displaced lease (hysteresis: a preemption must gain more than this)',
  CLEARING_SOLVER_THREADS:
    "worker threads that solve the clearing's MIP parts beside the clearing thread, plus the search lane's thread when not 0 (0: neither): the clearing thread solves parts too, so the default uses every core",
  ROUND_TIME_LIMIT_MS: "the clearing solver's budget per round; never more than half the period",
  QUEUE_PREFIX: 'namespace of the job queues in Redis: several markets (or test runs) can share one Redis',
  DEMO_FLEET:
    'seed a simulated demo fleet and background demand: `auto` only on the embedded database, `true`, `false`',
  SIMULATED_TIME_SCALE: 'simulated fleets finish workloads this many times faster than the clock (demos)',
  REPORT_MAX_SPAN_DAYS: 'the longest range a finance report may cover (1-3660)',
  ORDER_RETRY_ATTEMPTS: 'tries of an order to a provider adapter (the first included) before it is dead-lettered',
  ORDER_RETRY_BACKOFF_MS: 'first retry delay of an order; doubles on each further try',
  MAX_PLATFORM_FAILURES_PER_BID:
    "a bid whose leases failed for the platform's reasons this many times fails (`too_many_failures`) instead of reopening",
  STOP_RETRY_SECONDS: 'how often the terminate of a workload the market failed to stop is sent again',
  HEARTBEAT_UNREACHABLE_SECONDS:
    'a node whose agent has been heard from is fenced after this long without a heartbeat or order poll (1-86400; agents are asked to beat every min(15, a third of it) seconds)',
  AGENT_ENDPOINTS_ALLOW_LOOPBACK:
    "`true` accepts service replica endpoints on loopback, link-local or unroutable addresses from node agents (a market and its agents on one host: demos, tests); by default such an endpoint is dropped from the agent's report, so a provider cannot aim the services gateway at the market host (docs/services.md)",
  PLACEMENT_START_TIMEOUT_SECONDS:
    'a placed lease whose workload is not running this long after its placement fails with `start_timeout` (1-604800)',
  RETENTION_DAYS: "days finished webhook deliveries and tenants' events are kept (0: forever); see Data retention",
  SLURM_BIN_DIR:
    'directory holding `sbatch`, `squeue`, `scontrol`, `scancel`; setting it enables providers with adapter `slurm`. Unset: their orders fail at once with a message naming this variable',
  SLURM_PARTITION: "partition the market's jobs go to (else the cluster's default)",
  SLURM_ACCOUNT: 'account the jobs are charged to',
  SLURM_CONF: "the cluster's `slurm.conf` (else the host's default); checked only when `SLURM_BIN_DIR` is set",
  SLURM_QOS: "QoS of the market's jobs (`--qos`)",
  SLURM_RESERVATION: 'reservation the jobs run in (`--reservation`)',
  SLURM_CPUS_PER_GPU: "CPUs per GPU (`--cpus-per-gpu`); unset: the cluster's default",
  SLURM_MEM_PER_GPU: "memory per GPU (`--mem-per-gpu`), e.g. `64G`; unset: the cluster's default",
  SLURM_WORK_DIR:
    'each lease runs in `<dir>/<lease id>`, with its output files there; on a multi-node cluster, storage the compute nodes share. Unset: the system temp directory',
  SLURM_GRES_TYPES:
    "GRES type per GPU model, e.g. `H100-SXM-80GB=h100,A100-SXM-80GB=a100` (`--gres=gpu:<type>:<n>`); unset: the node's own type name, else untyped",
  SLURM_EXTRA_ARGS:
    'further sbatch flags, each one `--flag[=value]` word from the allow-list in docs/adapters.md; flags the market sets itself are refused',
  KUBE_NAMESPACE:
    'namespace the lease Pods go to; setting it enables providers with adapter `kubernetes`. Unset: their orders fail at once naming this variable',
  KUBECONFIG:
    'one kubeconfig file for the Kubernetes adapter; unset: the in-cluster service account, else `~/.kube/config`. Checked only when `KUBE_NAMESPACE` is set',
  WEBHOOK_SECRET_KEY:
    '32 bytes (64 hex digits, or base64) that encrypt webhook secrets at rest (AES-256-GCM). Unset: generated once into `DATA_DIR/webhook-secret.key` on the embedded database; with `DATABASE_URL`, the webhook API answers 503 until it is set. See [Webhooks](#webhooks)',
  WEBHOOK_SECRET_KEY_PREVIOUS:
    'the key before the last change of `WEBHOOK_SECRET_KEY`: secrets still under it are re-encrypted at start-up',
  WEBHOOK_ALLOW_PRIVATE_TARGETS:
    '`true` lets webhooks go to private, loopback and link-local addresses (tests, a demo on one machine); never where tenants are not trusted',
  WEBHOOK_TIMEOUT_MS: "one delivery attempt's budget (connect, send, answer), 100-60000",
  WEBHOOK_RETRY_BASE_MS: 'delay after the first failed attempt; doubles per attempt, with ±25% jitter',
  WEBHOOK_RETRY_MAX_MS: 'the longest delay between attempts (before jitter)',
  WEBHOOK_RETRY_WINDOW_SECONDS:
    'how long after its event a delivery is retried before it is marked failed (1 s-7 days)',
  WEBHOOK_DISABLE_AFTER_FAILURES: 'an endpoint is disabled after this many failed attempts in a row ...',
  WEBHOOK_DISABLE_AFTER_SECONDS: '... spread over at least this long (3 days) with no success in between',
  WEBHOOK_SECRET_GRACE_SECONDS:
    'how long the previous secret also signs after a rotation (0-604800; a request may choose)',
  WEBHOOK_CONCURRENCY: 'webhook deliveries one process sends at once',
  WEBHOOK_ENDPOINT_CONCURRENCY:
    'attempts in flight to one endpoint at once across all replicas, so a slow endpoint cannot take every worker',
};

export interface ConfigVariable {
  readonly name: string;
  readonly default: string;
  readonly rule: string;
  /** Null for a variable read in config.ts that has no entry in MEANINGS yet (a test catches it). */
  readonly meaning: string | null;
}

/** Every configuration variable, in the order the service reads them. */
export function describeConfig(): ConfigVariable[] {
  return configVariables().map((v) => ({ ...v, meaning: MEANINGS[v.name] ?? null }));
}

/** Names in MEANINGS that the configuration no longer reads. */
export function staleMeanings(): string[] {
  const read = new Set(configVariables().map((v) => v.name));
  return Object.keys(MEANINGS).filter((name) => !read.has(name));
}

const BEGIN = '<!-- config-variables: generated from src/platform/config by `npm run docs:config`; do not edit -->';
const END = '<!-- /config-variables -->';

/** The variables table of docs/operations.md, between its markers. */
export function configTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = describeConfig().map((v) => {
    const fallback = v.default === 'unset' ? 'unset' : /^[\d.]+$/.test(v.default) ? v.default : `\`${v.default}\``;
    return `| \`${v.name}\` | ${fallback} | ${cell(v.rule)} | ${cell(v.meaning ?? '')} |`;
  });
  return [BEGIN, '| variable | default | values | meaning |', '| --- | --- | --- | --- |', ...rows, END].join('\n');
}

/** `document` with the table between its markers replaced by the generated one. */
export function withConfigTable(document: string): string {
  const start = document.indexOf(BEGIN);
  const end = document.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`the document has no ${BEGIN} ... ${END} markers`);
  return document.slice(0, start) + configTable() + document.slice(end + END.length);
}

/** The variables for a terminal: name and default, then the meaning and values wrapped below. */
export function configHelp(width = 100): string {
  const lines: string[] = [];
  for (const v of describeConfig()) {
    lines.push(`  ${v.name}${v.default === 'unset' ? '' : `=${v.default}`}`);
    const text = `${(v.meaning ?? '').replace(/`/g, '')}${v.meaning ? ' ' : ''}[${v.rule}]`;
    lines.push(...wrap(text, width - 6).map((line) => `      ${line}`));
  }
  return lines.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
