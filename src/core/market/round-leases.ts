/**
 * Which live leases a clearing round sees, and how. The rule of the market loop's snapshot
 * (src/modules/market/market-snapshot.repository.ts), kept pure so the simulator applies the
 * same one:
 *
 * - allocated and running leases are always in the round, protected until their
 *   `protectedUntil` (an allocated lease is protected from the moment it is allocated);
 * - a lease in its preemption notice is in the round only where its GPUs have not been handed
 *   to a newer lease (taken in allocation order), so the snapshot never holds two leases on one
 *   GPU. It is offered unprotected: the round may keep it (it wins its place back before the
 *   notice ends) or leave it displaced.
 */
export interface RoundLeaseCandidate {
  readonly state: 'allocated' | 'running' | 'preempting';
  readonly shares: readonly { readonly nodeId: string; readonly gpus: number }[];
  readonly protectedUntil: number | null;
}

export interface RoundLease<L> {
  readonly lease: L;
  /** What the snapshot says: null for a lease in its notice (and one that never was protected). */
  readonly protectedUntil: number | null;
}

/**
 * `leases` in allocation order (oldest first); `nodeGpus`: each node's GPU count; `held`: GPUs
 * per node that something outside the leases still holds (a workload the market failed to stop).
 */
export function leasesSeenByRound<L extends RoundLeaseCandidate>(
  leases: readonly L[],
  nodeGpus: ReadonlyMap<string, number>,
  held: ReadonlyMap<string, number> = new Map(),
): RoundLease<L>[] {
  const used = new Map<string, number>();
  for (const lease of leases)
    if (lease.state !== 'preempting')
      for (const s of lease.shares) used.set(s.nodeId, (used.get(s.nodeId) ?? 0) + s.gpus);
  const seen: RoundLease<L>[] = [];
  for (const lease of leases) {
    if (lease.state === 'preempting') {
      const fits = lease.shares.every(
        (s) => (used.get(s.nodeId) ?? 0) + (held.get(s.nodeId) ?? 0) + s.gpus <= (nodeGpus.get(s.nodeId) ?? 0),
      );
      if (!fits) continue;
      for (const s of lease.shares) used.set(s.nodeId, (used.get(s.nodeId) ?? 0) + s.gpus);
    }
    seen.push({ lease, protectedUntil: lease.state === 'preempting' ? null : lease.protectedUntil });
  }
  return seen;
}
