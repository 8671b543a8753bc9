/**
 * Which local GPUs a new workload gets. A gang that fits inside one NVLink island goes to the
 * island that fits it most tightly, so that large islands stay whole for large gangs; otherwise
 * the lowest free indices.
 */
export type GpuChoice =
  | { readonly kind: 'ok'; readonly gpus: number[] }
  | { readonly kind: 'retryable' | 'permanent'; readonly message: string };

export function chooseGpus(
  all: readonly number[],
  islands: readonly (readonly number[])[],
  busy: ReadonlySet<number>,
  wanted: number,
): GpuChoice {
  if (!Number.isInteger(wanted) || wanted < 1) return { kind: 'permanent', message: `cannot grant ${wanted} GPUs` };
  if (wanted > all.length) {
    return { kind: 'permanent', message: `the node has ${all.length} GPUs; ${wanted} were granted` };
  }
  const free = all.filter((gpu) => !busy.has(gpu));
  if (free.length < wanted) {
    // A lease in its preemption notice may still hold GPUs; they free up within the notice.
    return { kind: 'retryable', message: `${free.length} of ${all.length} GPUs are free; ${wanted} were granted` };
  }
  const fitting = islands
    .map((island) => island.filter((gpu) => !busy.has(gpu)))
    .filter((freeInIsland) => freeInIsland.length >= wanted)
    .sort((a, b) => a.length - b.length || a[0]! - b[0]!);
  const gpus = (fitting[0] ?? free).slice(0, wanted);
  return { kind: 'ok', gpus: [...gpus].sort((a, b) => a - b) };
}
