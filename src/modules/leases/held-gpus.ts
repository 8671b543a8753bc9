/**
 * SQL conditions on a lease row `l` for whether it holds its GPUs. A lease whose workload the
 * market failed to stop (its terminate order was dead-lettered) has ended, but its workload may
 * still run on the provider's GPUs: they stay held, so no new lease is placed on them, until its
 * adapter confirms the workload is gone (docs/operations.md, "Orders that fail for good").
 */
export const STOP_UNCONFIRMED = `(l.stop_failed_at IS NOT NULL AND l.stop_confirmed_at IS NULL AND l.state IN ('completed', 'cancelled', 'preempted', 'failed'))`;

/**
 * SQL for the GPUs of a node row `n` that no new lease can get beyond its leases' own: all of a
 * fenced node's (its agent went silent), else those its agent reported unusable (ECC, Xid, MIG,
 * vanished). The clearing snapshot applies the same rule (core/market/node-health.ts blockedGpus).
 */
export const UNSELLABLE_GPUS = `(CASE WHEN n.unreachable_since IS NOT NULL THEN n.gpus ELSE jsonb_array_length(n.unavailable_gpus) END)`;
