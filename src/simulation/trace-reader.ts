import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { TraceNodeRow, TracePodRow } from '../core/simulation/trace-model.js';

/**
 * Reads a trace directory in the cluster-trace-gpu-v2023 format: nodes.csv and one pods CSV.
 * Users replay their own traces by writing the same two files.
 */
export class TraceFormatError extends Error {}

const NODE_COLUMNS = ['sn', 'gpu', 'model'];
const POD_COLUMNS = [
  'name',
  'num_gpu',
  'gpu_milli',
  'gpu_spec',
  'qos',
  'pod_phase',
  'creation_time',
  'deletion_time',
  'scheduled_time',
];

function records(text: string, file: string, required: readonly string[]): Record<string, string>[] {
  const rows = parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  const header = rows.length > 0 ? Object.keys(rows[0]) : [];
  const missing = required.filter((c) => !header.includes(c));
  if (rows.length > 0 && missing.length > 0)
    throw new TraceFormatError(`${file}: missing column(s) ${missing.join(', ')}`);
  return rows;
}

function integer(value: string, file: string, line: number, column: string, optional = false): number | null {
  if (value === '' && optional) return null;
  const n = Number(value);
  if (value === '' || !Number.isFinite(n))
    throw new TraceFormatError(`${file}:${line}: ${column} must be a number, got "${value}"`);
  return n;
}

export function parseTraceNodes(text: string, file = 'nodes.csv'): TraceNodeRow[] {
  return records(text, file, NODE_COLUMNS).map((r, i) => ({
    sn: r.sn,
    gpu: integer(r.gpu, file, i + 2, 'gpu')!,
    model: r.model,
  }));
}

export function parseTracePods(text: string, file = 'pods.csv'): TracePodRow[] {
  return records(text, file, POD_COLUMNS).map((r, i) => ({
    name: r.name,
    numGpu: integer(r.num_gpu, file, i + 2, 'num_gpu')!,
    gpuMilli: integer(r.gpu_milli || '0', file, i + 2, 'gpu_milli')!,
    gpuSpec: r.gpu_spec,
    qos: r.qos,
    phase: r.pod_phase,
    creationTime: integer(r.creation_time, file, i + 2, 'creation_time')!,
    deletionTime: integer(r.deletion_time, file, i + 2, 'deletion_time', true),
    scheduledTime: integer(r.scheduled_time, file, i + 2, 'scheduled_time', true),
  }));
}

/** nodes.csv plus the first pods*.csv in the directory. */
export async function readTraceDirectory(
  dir: string,
  podsFile?: string,
): Promise<{ nodes: TraceNodeRow[]; pods: TracePodRow[] }> {
  const pods = podsFile ?? (await readdir(dir)).filter((f) => f.startsWith('pods') && f.endsWith('.csv')).sort()[0];
  if (!pods) throw new TraceFormatError(`${dir}: no pods*.csv file`);
  const [nodeText, podText] = await Promise.all([
    readFile(join(dir, 'nodes.csv'), 'utf8'),
    readFile(join(dir, pods), 'utf8'),
  ]);
  return { nodes: parseTraceNodes(nodeText, 'nodes.csv'), pods: parseTracePods(podText, pods) };
}
