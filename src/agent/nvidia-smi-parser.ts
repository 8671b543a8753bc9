import type { GpuReading } from './gpu-health.js';

/**
 * Parsers for the nvidia-smi outputs the agent reads. Pure functions over text, so they are
 * tested on fixture outputs without a GPU.
 */
export interface GpuInfo {
  readonly index: number;
  readonly uuid: string;
  readonly name: string;
  /** Undefined where nvidia-smi prints `[N/A]` (some vGPU and MIG setups). */
  readonly memoryMiB?: number;
}

/** nvidia-smi's ways of saying "no value": `[N/A]`, `N/A`, `[Not Supported]`, `[Unknown Error]`... */
const NO_VALUE =
  /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU requires reset|Not Available)\]?$/i;

function value(field: string | undefined): string | undefined {
  const trimmed = field?.trim() ?? '';
  return trimmed === '' || NO_VALUE.test(trimmed) ? undefined : trimmed;
}

/** `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits` */
export function parseGpuQuery(output: string): GpuInfo[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line, row) => {
      // Names never contain commas; CSV quoting is not used by nvidia-smi for these fields.
      // Extra trailing fields (a newer nvidia-smi, a wrapper script) are ignored.
      const fields = line.split(',').map((field) => field.trim());
      if (fields.length < 4)
        throw new Error(`nvidia-smi line ${row + 1}: expected 4 fields, got ${JSON.stringify(line)}`);
      const [index, uuid, name, memory] = fields as [string, string, string, string];
      if (!/^\d+$/.test(index))
        throw new Error(`nvidia-smi line ${row + 1}: index ${JSON.stringify(index)} is not a number`);
      if (!value(uuid)) throw new Error(`nvidia-smi line ${row + 1}: no uuid`);
      const mib = value(memory);
      if (mib !== undefined && !/^\d+$/.test(mib))
        throw new Error(`nvidia-smi line ${row + 1}: memory ${JSON.stringify(memory)} is not MiB`);
      return { index: Number(index), uuid, name, ...(mib !== undefined ? { memoryMiB: Number(mib) } : {}) };
    });
}

/**
 * `nvidia-smi --query-gpu=<HEALTH_FIELDS> --format=csv,nounits`, with its header row: columns are
 * found by name, so fields the driver refused (and the agent dropped) or added are harmless.
 */
export function parseGpuHealth(output: string): GpuReading[] {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.length === 0) return [];
  // Header cells carry units even with nounits: "memory.total [MiB]".
  const header = lines[0]!.split(',').map((cell) =>
    cell
      .trim()
      .replace(/\s*\[[^\]]*\]$/, '')
      .toLowerCase(),
  );
  const column = (name: string) => header.indexOf(name);
  if (column('index') < 0 || column('uuid') < 0)
    throw new Error('nvidia-smi health query: the header has no index or uuid column');
  return lines.slice(1).map((line, row) => {
    const cells = line.split(',');
    const cell = (name: string) => (column(name) < 0 ? undefined : value(cells[column(name)]));
    const index = cell('index');
    const uuid = cell('uuid');
    if (!index || !/^\d+$/.test(index) || !uuid)
      throw new Error(`nvidia-smi health line ${row + 1}: no index or uuid in ${JSON.stringify(line)}`);
    const count = (name: string) => {
      const text = cell(name);
      return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
    };
    const yes = (name: string) => /^(yes|enabled|true|1)$/i.test(cell(name) ?? '');
    const volatile = count('ecc.errors.uncorrected.volatile.total') ?? 0;
    const aggregate = count('ecc.errors.uncorrected.aggregate.total') ?? 0;
    return {
      index: Number(index),
      uuid,
      migEnabled: yes('mig.mode.current'),
      uncorrectableEcc: volatile + aggregate,
      pendingRetirement: yes('retired_pages.pending') || yes('remapped_rows.pending') || yes('remapped_rows.failure'),
    };
  });
}

/** How two GPUs are connected, from the `nvidia-smi topo -m` matrix. */
export type GpuLink =
  { readonly kind: 'nvlink'; readonly links: number } | { readonly kind: 'pcie'; readonly path: string };

export interface GpuTopology {
  /** GPU indices in matrix order. */
  readonly gpus: readonly number[];
  /** link(a, b) for two different GPU indices. */
  link(a: number, b: number): GpuLink | undefined;
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** `nvidia-smi topo -m`: the GPU-to-GPU block of the matrix; NIC rows and columns are ignored. */
export function parseTopology(output: string): GpuTopology {
  const lines = output.replace(ANSI, '').split('\n');
  const headerAt = lines.findIndex((line) => /^\s*GPU0\b/.test(line.replace(/^\t/, '')) && line.startsWith('\t'));
  if (headerAt < 0) throw new Error('nvidia-smi topo -m: no header row with GPU0');
  const header = lines[headerAt]!.split('\t').map((cell) => cell.trim());
  const gpuColumns = new Map<number, number>();
  header.forEach((cell, column) => {
    const match = /^GPU(\d+)$/.exec(cell);
    if (match) gpuColumns.set(column, Number(match[1]));
  });
  const links = new Map<string, GpuLink>();
  const gpus: number[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    const cells = line.split('\t').map((cell) => cell.trim());
    const row = /^GPU(\d+)$/.exec(cells[0] ?? '');
    if (!row) continue;
    const from = Number(row[1]);
    gpus.push(from);
    for (const [column, to] of gpuColumns) {
      const cell = cells[column] ?? '';
      if (to === from || cell === 'X') continue;
      const nvlink = /^NV(\d+)$/.exec(cell);
      links.set(`${from}:${to}`, nvlink ? { kind: 'nvlink', links: Number(nvlink[1]) } : { kind: 'pcie', path: cell });
    }
  }
  if (gpus.length === 0) throw new Error('nvidia-smi topo -m: no GPU rows');
  return { gpus, link: (a, b) => links.get(`${a}:${b}`) };
}

/** Groups of GPUs joined by NVLink (connected components); a PCIe-only GPU is a group of one. */
export function nvlinkIslands(topology: GpuTopology): number[][] {
  const seen = new Set<number>();
  const islands: number[][] = [];
  for (const start of topology.gpus) {
    if (seen.has(start)) continue;
    const island: number[] = [];
    const queue = [start];
    seen.add(start);
    while (queue.length > 0) {
      const gpu = queue.shift()!;
      island.push(gpu);
      for (const other of topology.gpus) {
        if (!seen.has(other) && topology.link(gpu, other)?.kind === 'nvlink') {
          seen.add(other);
          queue.push(other);
        }
      }
    }
    islands.push(island.sort((a, b) => a - b));
  }
  return islands;
}
