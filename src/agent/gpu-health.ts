/**
 * Which of the node's GPUs may be sold, from a fresh nvidia-smi reading. Pure: the agent re-reads
 * nvidia-smi every minute and reports the result with its heartbeat (POST /v1/agent/heartbeat).
 */
export type UnavailableReason = 'vanished' | 'ecc' | 'xid' | 'mig' | 'unhealthy';

export interface GpuReading {
  readonly index: number;
  readonly uuid: string;
  /** MIG mode is on: the GPU is partitioned and cannot be sold whole. */
  readonly migEnabled?: boolean;
  /** Uncorrectable ECC errors (volatile or aggregate) counted by the driver. */
  readonly uncorrectableEcc?: number;
  /** Retired pages or remapped rows waiting for a GPU reset. */
  readonly pendingRetirement?: boolean;
  /** Xid errors, where the source reports them (nvidia-smi's query does not). */
  readonly xidErrors?: number;
}

export interface GpuAvailability {
  readonly index: number;
  readonly uuid: string;
  readonly available: boolean;
  readonly reason?: UnavailableReason;
}

/**
 * `discovered` are the GPUs the node registered with; a GPU missing from `current` (by UUID, as
 * indices shift when a GPU falls off the bus) is `vanished`.
 */
export function gpuAvailability(
  discovered: readonly { readonly index: number; readonly uuid: string }[],
  current: readonly GpuReading[],
): GpuAvailability[] {
  const byUuid = new Map(current.map((reading) => [reading.uuid, reading]));
  return discovered.map(({ index, uuid }) => {
    const reading = byUuid.get(uuid);
    const reason = !reading ? 'vanished' : unavailableReason(reading);
    return reason ? { index, uuid, available: false, reason } : { index, uuid, available: true };
  });
}

function unavailableReason(reading: GpuReading): UnavailableReason | undefined {
  if (reading.migEnabled) return 'mig';
  if ((reading.uncorrectableEcc ?? 0) > 0) return 'ecc';
  if ((reading.xidErrors ?? 0) > 0) return 'xid';
  if (reading.pendingRetirement) return 'unhealthy';
  return undefined;
}
