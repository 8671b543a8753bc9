import { UsageError } from './tenant-errors.js';

/**
 * Turning flags into the API's request bodies and queries. Pure: the clock comes in as `now`.
 * Only syntax is checked here (a flag the CLI cannot even translate); ranges and rules stay the
 * API's, so the CLI never disagrees with the service about what a valid bid is.
 */

/** The contiguity values of POST /v1/bids (CONTIGUITIES in src/core/market/types.ts). */
export const CONTIGUITY_VALUES = ['node', 'nvlink', 'block', 'none'] as const;

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1 };
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** `4h`, `90m`, `1h30m`, `2d`, `45s`; a bare number is hours (`1.5` is 5400 s). Whole seconds. */
export function parseDuration(text: string, flag: string): number {
  const value = text.trim();
  const hours = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (hours) {
    // Exact: 1.0000001 hours is not a whole number of seconds, and a float would round it to one.
    const fraction = hours[2] ?? '';
    const scaled = BigInt(hours[1]! + fraction) * 3600n;
    const unit = 10n ** BigInt(fraction.length);
    if (scaled % unit !== 0n) throw new UsageError(`${flag} ${text}: hours must come to whole seconds`);
    return Number(scaled / unit);
  }
  const match = DURATION.exec(value);
  if (!match || value === '')
    throw new UsageError(`${flag} ${text}: expected hours (4, 1.5) or a duration like 4h, 90m, 1h30m, 2d`);
  const [, d, h, m, s] = match;
  return (
    Number(d ?? 0) * UNIT_SECONDS.d + Number(h ?? 0) * UNIT_SECONDS.h + Number(m ?? 0) * UNIT_SECONDS.m + Number(s ?? 0)
  );
}

/**
 * An ISO 8601 instant, or a duration relative to `now`: later for a deadline (`24h` is a day
 * from now), earlier for the start of a range (`--from 24h` is a day ago), as `direction` says.
 */
export function parseInstant(text: string, flag: string, now: Date, direction: 1 | -1): string {
  const value = text.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new UsageError(`${flag} ${text}: not a valid ISO 8601 instant`);
    return new Date(ms).toISOString();
  }
  if (value === 'now') return now.toISOString();
  const relative = value.replace(/^[+]/, '');
  if (!/[dhms]$/.test(relative) || !DURATION.test(relative)) {
    throw new UsageError(
      `${flag} ${text}: expected an ISO 8601 instant (2026-12-07T10:00:00Z) or a duration like 24h, 90m, 2d`,
    );
  }
  return new Date(now.getTime() + direction * parseDuration(relative, flag) * 1000).toISOString();
}

/** A whole number (ranges are the API's). */
export function parseWholeNumber(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag} ${text}: expected a whole number`);
  return Number(text.trim());
}

/** `MODEL=PRICE`; the price stays the decimal string typed (money is never a binary float). */
export function parseOffer(text: string): { gpuModel: string; maxPrice: string } {
  const at = text.indexOf('=');
  const gpuModel = at > 0 ? text.slice(0, at).trim() : '';
  const maxPrice = at > 0 ? text.slice(at + 1).trim() : '';
  if (!gpuModel || !/^\d+(\.\d+)?$/.test(maxPrice)) {
    throw new UsageError(
      `--offer ${text}: expected MODEL=PRICE with a decimal price per GPU-hour, e.g. H100-SXM-80GB=2.50`,
    );
  }
  return { gpuModel, maxPrice };
}

/** `--env K=V` pairs; a value may hold `=`. */
export function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--env ${pair}: expected NAME=VALUE`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

/** The flags shared by `bid` and `quote`, as util.parseArgs returns them. */
export interface BidFlags {
  gpus?: string;
  offer?: string[];
  contiguity?: string;
  preemptible?: boolean;
  runtime?: string;
  deadline?: string;
  'window-deadline'?: string;
  'not-before'?: string;
  region?: string[];
  compliance?: string[];
  'min-gpu-memory'?: string;
  image?: string;
  command?: string;
  env?: string[];
}

export const BID_OPTIONS = {
  gpus: { type: 'string' },
  offer: { type: 'string', multiple: true },
  contiguity: { type: 'string' },
  preemptible: { type: 'boolean' },
  runtime: { type: 'string' },
  deadline: { type: 'string' },
  'window-deadline': { type: 'string' },
  'not-before': { type: 'string' },
  region: { type: 'string', multiple: true },
  compliance: { type: 'string', multiple: true },
  'min-gpu-memory': { type: 'string' },
  image: { type: 'string' },
  command: { type: 'string' },
  env: { type: 'string', multiple: true },
} as const;

/**
 * The body of POST /v1/bids (and /v1/quotes) from the flags. `argvCommand` is what follows `--`
 * on the command line: the workload's command word for word, which `--command` (split on
 * whitespace) cannot express when an argument holds a space.
 */
export function bidBodyFromFlags(flags: BidFlags, argvCommand: readonly string[], now: Date): Record<string, unknown> {
  const offers = flags.offer ?? [];
  const missing = (['gpus', 'runtime'] as const).filter((name) => flags[name] === undefined).map((name) => `--${name}`);
  if (offers.length === 0) missing.push('--offer');
  if (missing.length > 0) throw new UsageError(`missing ${missing.join(', ')}`);
  const contiguity = flags.contiguity ?? 'node';
  if (!(CONTIGUITY_VALUES as readonly string[]).includes(contiguity)) {
    throw new UsageError(`--contiguity ${contiguity}: expected one of ${CONTIGUITY_VALUES.join(', ')}`);
  }
  if (
    flags.deadline !== undefined &&
    flags['window-deadline'] !== undefined &&
    flags.deadline !== flags['window-deadline']
  ) {
    throw new UsageError('--deadline and --window-deadline are the same flag; give it once');
  }
  const deadline = flags.deadline ?? flags['window-deadline'];
  if (flags['not-before'] !== undefined && deadline === undefined)
    throw new UsageError('--not-before needs --deadline');
  if (flags.command !== undefined && argvCommand.length > 0)
    throw new UsageError('give the command either with --command or after --, not both');

  const body: Record<string, unknown> = {
    gpus: parseWholeNumber(flags.gpus!, '--gpus'),
    offers: offers.map(parseOffer),
    contiguity,
    preemptible: flags.preemptible ?? false,
    runtimeSeconds: parseDuration(flags.runtime!, '--runtime'),
  };
  if (deadline !== undefined) {
    const window: Record<string, string> = { deadline: parseInstant(deadline, '--deadline', now, 1) };
    if (flags['not-before'] !== undefined) window.notBefore = parseInstant(flags['not-before'], '--not-before', now, 1);
    body.window = window;
  }
  if (flags.region?.length) body.regions = flags.region;
  if (flags.compliance?.length) body.compliance = flags.compliance;
  if (flags['min-gpu-memory'] !== undefined)
    body.minGpuMemoryGb = parseWholeNumber(flags['min-gpu-memory'], '--min-gpu-memory');
  const workload: Record<string, unknown> = {};
  if (flags.image !== undefined) workload.image = flags.image;
  const command = flags.command !== undefined ? flags.command.trim().split(/\s+/).filter(Boolean) : [...argvCommand];
  if (command.length > 0) workload.command = command;
  if (flags.env?.length) workload.env = parseEnv(flags.env);
  body.workload = workload;
  return body;
}
