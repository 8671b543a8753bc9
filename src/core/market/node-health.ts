/**
 * Node health as the market judges it from its agent's heartbeats (docs/operations.md, "Node
 * health and fencing"), and the start timeout of a placed lease. Pure rules: the shell passes
 * the clock and the limits from its configuration.
 */

/** `never_seen`: no heartbeat or poll ever came (fleets without an agent); such nodes are never fenced. */
export type NodeHealth = 'ok' | 'unreachable' | 'never_seen';
export const NODE_HEALTHS: readonly NodeHealth[] = ['ok', 'unreachable', 'never_seen'];

/** Why the agent reports a GPU unusable; the market sells only the node's other GPUs. */
/** What an agent reports of a GPU it will not run work on. */
export type AgentGpuReason = 'vanished' | 'ecc' | 'xid' | 'mig' | 'unhealthy';
export const AGENT_GPU_REASONS: readonly AgentGpuReason[] = ['vanished', 'ecc', 'xid', 'mig', 'unhealthy'];
/** `provider_jobs`: the provider's own jobs hold the GPU (read from the platform, e.g. Slurm). */
export type GpuUnavailableReason = AgentGpuReason | 'provider_jobs';
export const GPU_UNAVAILABLE_REASONS: readonly GpuUnavailableReason[] = [...AGENT_GPU_REASONS, 'provider_jobs'];

export interface UnavailableGpu {
  readonly index: number;
  readonly reason: GpuUnavailableReason;
}

/** The heartbeat interval the market asks agents for: three beats fit in the default 45 s. */
export const HEARTBEAT_INTERVAL_SECONDS = 15;

/** An agent's interval for a given unreachable limit: at least three beats before it is fenced. */
export function heartbeatIntervalSeconds(unreachableAfterSeconds: number): number {
  return Math.max(1, Math.min(HEARTBEAT_INTERVAL_SECONDS, Math.floor(unreachableAfterSeconds / 3)));
}

/**
 * `unreachable` once `unreachableAfterSeconds` have passed since the last heartbeat, or while the
 * node stays fenced (a fenced node is ok again only when a heartbeat clears the fence).
 */
export function nodeHealth(
  lastHeartbeatAt: Date | null,
  now: Date,
  unreachableAfterSeconds: number,
  fenced = false,
): NodeHealth {
  if (lastHeartbeatAt === null) return 'never_seen';
  if (fenced) return 'unreachable';
  return now.getTime() - lastHeartbeatAt.getTime() >= unreachableAfterSeconds * 1000 ? 'unreachable' : 'ok';
}

/**
 * Where a fenced node's lease ends: at the node's last heartbeat, the last moment the market knew
 * its workload could run, but never before the lease started (its start may have been reported
 * after the last heartbeat) nor after `now`.
 */
export function fencedLeaseEnd(lastHeartbeatAt: Date, startedAt: Date | null, now: Date): Date {
  const end = Math.min(now.getTime(), Math.max(lastHeartbeatAt.getTime(), startedAt?.getTime() ?? 0));
  return new Date(end);
}

/**
 * The GPUs a node can sell beyond its leases' own, as the clearing snapshot's `unavailableGpus`:
 * all of them on an unreachable or inactive node; else those held by a workload the market failed
 * to stop plus those the agent reported unusable. Never more than the GPUs no lease uses, so a
 * lease on an unusable GPU keeps its place until it ends.
 */
export function blockedGpus(node: {
  gpus: number;
  usedByLeases: number;
  sellable: boolean;
  stuck: number;
  unusable: number;
}): number {
  const free = Math.max(0, node.gpus - node.usedByLeases);
  const blocked = node.sellable ? node.stuck + node.unusable : node.gpus;
  return Math.max(0, Math.min(blocked, free));
}

/** A placed lease whose workload is not running `timeoutSeconds` after its placement has timed out. */
export function startTimedOut(allocatedAt: Date, now: Date, timeoutSeconds: number): boolean {
  return now.getTime() - allocatedAt.getTime() >= timeoutSeconds * 1000;
}

/** The lease's end reason for a start timeout: the platform's own word for the wait when it gave one. */
export function startTimeoutReason(
  timeoutSeconds: number,
  waitingReason: string | undefined,
  state: string | undefined,
): string {
  const why = waitingReason?.trim() ? `: ${waitingReason.trim()}` : state ? ` (workload ${state})` : '';
  return `start_timeout: not running ${timeoutSeconds} s after placement${why}`;
}
