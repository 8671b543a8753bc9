/**
 * Reads the jobs of `squeue --json` and `sacct --json` whatever the Slurm release printed them,
 * into one shape (pure). The shapes, from SchedMD/slurm's data_parser sources:
 *
 * - 22.05 (openapi v0.0.38 dumpers): squeue `job_state` "RUNNING", `exit_code` the raw wait status
 *   as a number, `state_reason` "Resources". sacct `state: {current, reason}` strings, `exit_code:
 *   {status: "SUCCESS"|"SIGNALED"|..., return_code, signal: {signal_id, name}}`.
 * - 23.02 (data_parser v0.0.39): squeue as 22.05 but numbers are `{set, infinite, number}`, so
 *   `exit_code` is `{set, infinite, number}` holding the raw wait status. sacct as 22.05.
 * - 23.11, 24.05, 24.11 (v0.0.40, v0.0.41, v0.0.42): `job_state` a list of flags (["RUNNING"],
 *   ["PENDING","REQUEUED"], ["COMPLETED"]), sacct `state.current` likewise; `exit_code` (both
 *   tools) `{status, return_code: {set, infinite, number}, signal: {id: {set,...}, name}}` with
 *   the return code already decoded. `status` is one string in these sources; a list of strings
 *   is read too.
 *
 * Known loss: the 22.05 and 23.02 sacct dumpers write `status: "SUCCESS", return_code: 0` for
 * every process that exited, whatever its code; such an exit code is not trusted (see
 * `exitTrusted`).
 */
export interface SlurmJob {
  readonly jobId: string;
  readonly name: string;
  /** Base state first ("RUNNING", "COMPLETED", ...), then any flags ("REQUEUED", "COMPLETING"). */
  readonly states: readonly string[];
  /** Why the job waits (pending) or why it ended; absent when Slurm says "None". */
  readonly reason?: string;
  readonly exitCode?: number;
  readonly signal?: number;
  /** False when the release's dumper is known to lose the exit code (22.05/23.02 sacct). */
  readonly exitTrusted: boolean;
  readonly comment?: string;
  readonly nodes?: string;
  /**
   * GPUs the job holds on each of its nodes, in the order of `nodes` (squeue's `gres_detail`,
   * "gpu:h100:8(IDX:0-7)"); absent when the job holds none or the release does not say.
   */
  readonly gpusPerNode?: readonly number[];
  /** Which tool reported it: squeue (the controller's live view) or sacct (accounting). */
  readonly source: 'squeue' | 'sacct';
}

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A plain number, or `{set, infinite, number}` (v0.0.39 and later); undefined when unset. */
export function slurmNumber(value: Json): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (isObject(value)) {
    if (value.set === false || value.infinite === true) return undefined;
    return typeof value.number === 'number' ? value.number : undefined;
  }
  return undefined;
}

function text(value: Json): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(',');
  return undefined;
}

/** "RUNNING" or ["RUNNING"] or ["PENDING","REQUEUED"] -> a list, base state first. */
function states(value: Json): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

/** Decodes a raw wait status: exit code in the high byte, terminating signal in the low 7 bits. */
export function decodeWaitStatus(raw: number): { exitCode?: number; signal?: number } {
  const signal = raw & 0x7f;
  return signal !== 0 ? { signal } : { exitCode: (raw >> 8) & 0xff };
}

interface Exit {
  exitCode?: number;
  signal?: number;
  trusted: boolean;
}

function exitOf(value: Json, rawNumber: boolean): Exit {
  if (value === undefined || value === null) return { trusted: true };
  if (!isObject(value) || 'set' in value) {
    // 22.05 squeue (number) or 23.02 squeue ({set, infinite, number}): the raw wait status.
    const raw = slurmNumber(value);
    if (raw === undefined) return { trusted: true };
    return rawNumber ? { ...decodeWaitStatus(raw), trusted: true } : { exitCode: raw, trusted: true };
  }
  const status = states(value.status);
  const returnCode = slurmNumber(value.return_code);
  const signalField = value.signal;
  const signal = isObject(signalField)
    ? (slurmNumber(signalField.id) ?? slurmNumber(signalField.signal_id))
    : undefined;
  if (status.includes('PENDING')) return { trusted: true };
  if (status.includes('SIGNALED') || status.includes('CORE_DUMPED')) {
    return { ...(signal !== undefined && signal > 0 ? { signal } : {}), trusted: true };
  }
  // Pre-v0.0.40 dumpers print SUCCESS with return_code 0 for any exit; v0.0.40 and later print
  // return_code as {set, infinite, number}, which tells the two apart.
  const decoded = isObject(value.return_code);
  if (status.includes('SUCCESS') && !decoded) return { exitCode: 0, trusted: false };
  return { ...(returnCode !== undefined ? { exitCode: returnCode } : {}), trusted: true };
}

const NO_REASON = new Set(['None', '']);

function reasonOf(value: Json): string | undefined {
  const reason = text(value);
  return reason === undefined || NO_REASON.has(reason) ? undefined : reason;
}

/** One job of `squeue --json` (any release). */
export function fromSqueue(raw: Json): SlurmJob | undefined {
  if (!isObject(raw)) return undefined;
  const jobId = slurmNumber(raw.job_id);
  if (jobId === undefined) return undefined;
  const exit = exitOf(raw.exit_code, true);
  const comment = text(raw.comment);
  const nodes = text(raw.nodes);
  const reason = reasonOf(raw.state_reason);
  const gpusPerNode = Array.isArray(raw.gres_detail)
    ? raw.gres_detail.map((entry) => gpusOfGres(text(entry) ?? ''))
    : [];
  return {
    jobId: String(jobId),
    name: text(raw.name) ?? '',
    states: states(raw.job_state),
    ...(gpusPerNode.some((gpus) => gpus > 0) ? { gpusPerNode } : {}),
    ...(reason ? { reason } : {}),
    ...(exit.exitCode !== undefined ? { exitCode: exit.exitCode } : {}),
    ...(exit.signal !== undefined ? { signal: exit.signal } : {}),
    exitTrusted: exit.trusted,
    ...(comment ? { comment } : {}),
    ...(nodes ? { nodes } : {}),
    source: 'squeue',
  };
}

/** One job of `sacct --json` (any release): the allocation's record, not its steps. */
export function fromSacct(raw: Json): SlurmJob | undefined {
  if (!isObject(raw)) return undefined;
  const jobId = slurmNumber(raw.job_id);
  if (jobId === undefined) return undefined;
  const state = isObject(raw.state) ? raw.state : {};
  const exit = exitOf(raw.exit_code, false);
  // sacct keeps the job's Comment as `comment.job` (a plain string in very old dumps).
  const comment = isObject(raw.comment) ? text(raw.comment.job) : text(raw.comment);
  const nodes = text(raw.nodes);
  const reason = reasonOf(state.reason);
  return {
    jobId: String(jobId),
    name: text(raw.name) ?? '',
    states: states(state.current),
    ...(reason ? { reason } : {}),
    ...(exit.exitCode !== undefined ? { exitCode: exit.exitCode } : {}),
    ...(exit.signal !== undefined ? { signal: exit.signal } : {}),
    exitTrusted: exit.trusted,
    ...(comment ? { comment } : {}),
    ...(nodes && nodes !== 'None assigned' ? { nodes } : {}),
    source: 'sacct',
  };
}

/** GPUs in one node's gres string: "gpu:h100:8(IDX:0-7)", "gpu:8", "gpu:a100:2(IDX:0-1),shard:4". */
export function gpusOfGres(gres: string): number {
  let total = 0;
  for (const entry of gres.replace(/\([^)]*\)/g, '').split(',')) {
    const parts = entry.split(':');
    const count = Number(parts.at(-1));
    if (parts[0] === 'gpu' && parts.length >= 2 && Number.isInteger(count)) total += count;
  }
  return total;
}

/** Expands a Slurm hostlist ("gpu-[1-3,7],cpu-a") into node names. */
export function expandHostlist(hostlist: string): string[] {
  const names: string[] = [];
  // Split at commas outside brackets.
  for (const part of hostlist.match(/[^,[]+(?:\[[^\]]*\][^,[]*)*/g) ?? []) {
    const match = /^([^[]*)\[([^\]]*)\](.*)$/.exec(part);
    if (!match) {
      names.push(part);
      continue;
    }
    const [, prefix, ranges, suffix] = match;
    for (const range of ranges!.split(',')) {
      const [from, to] = range.split('-');
      if (to === undefined) {
        names.push(...expandHostlist(`${prefix}${from}${suffix}`));
        continue;
      }
      for (let index = Number(from); index <= Number(to); index += 1) {
        names.push(...expandHostlist(`${prefix}${String(index).padStart(from!.length, '0')}${suffix}`));
      }
    }
  }
  return names;
}

export interface SlurmJsonAnswer {
  readonly jobs: SlurmJob[];
  /** The first error the tool reported in its JSON (`errors: [{description, error}]`). */
  readonly error?: string;
}

/** Parses a whole `squeue --json` or `sacct --json` document; throws SyntaxError on bad JSON. */
export function parseJobsDocument(stdout: string, tool: 'squeue' | 'sacct'): SlurmJsonAnswer {
  const parsed = JSON.parse(stdout) as Json;
  if (!isObject(parsed)) return { jobs: [], error: 'the answer is not a JSON object' };
  const read = tool === 'squeue' ? fromSqueue : fromSacct;
  const jobs = (Array.isArray(parsed.jobs) ? parsed.jobs : [])
    .map(read)
    .filter((job): job is SlurmJob => job !== undefined);
  const errors = Array.isArray(parsed.errors) ? parsed.errors.filter(isObject) : [];
  // Errors are objects with a description and an error text (or number); some releases print
  // an empty list, and warnings are a separate key.
  const first = errors[0];
  const error = first ? text(first.description) || text(first.error) || JSON.stringify(first) : undefined;
  return { jobs, ...(error ? { error } : {}) };
}
