import type { V1Pod } from '@kubernetes/client-node';
import type { WorkloadStatus } from '../provider-adapter.js';

/** One pod's phase and container exit code as a workload status (pure). */
export function podStatus(pod: V1Pod): WorkloadStatus {
  const container = pod.status?.containerStatuses?.[0];
  const terminated = container?.state?.terminated;
  const why = [pod.status?.reason, pod.status?.message].filter(Boolean).join(': ');
  if (pod.metadata?.deletionTimestamp) {
    return terminated
      ? { state: 'stopped', exitCode: terminated.exitCode, message: 'pod deleted' }
      : { state: 'running', message: `terminating (grace ${pod.metadata.deletionGracePeriodSeconds ?? '?'} s)` };
  }
  switch (pod.status?.phase) {
    case 'Pending':
      return pendingStatus(pod);
    case 'Running':
      return { state: 'running' };
    case 'Succeeded':
      return { state: 'completed', exitCode: terminated?.exitCode ?? 0 };
    case 'Failed':
      return {
        state: 'failed',
        ...(terminated ? { exitCode: terminated.exitCode } : {}),
        // A Pod-level reason (Evicted, OutOfnvidia.com/gpu, NodeLost, Shutdown, ...) is the
        // kubelet's or the node's doing; a container that exited on its own is the workload's.
        cause: pod.status?.reason || !terminated ? 'platform' : 'workload',
        message: why || terminated?.reason || 'pod failed',
      };
    default:
      return { state: 'unknown', message: `pod phase ${pod.status?.phase ?? 'not reported yet'}` };
  }
}

/**
 * Why a Pending pod has not started, in the platform's own words: a container's waiting reason
 * (ErrImagePull, ImagePullBackOff, CreateContainerConfigError, ContainerCreating), else the
 * scheduler's (the PodScheduled condition False with reason Unschedulable), else the pod's reason.
 */
function pendingStatus(pod: V1Pod): WorkloadStatus {
  const waiting = pod.status?.containerStatuses?.map((status) => status.state?.waiting).find((state) => state?.reason);
  if (waiting?.reason) {
    return {
      state: 'pending',
      waitingReason: waiting.reason,
      message: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
    };
  }
  const unscheduled = pod.status?.conditions?.find(
    (condition) => condition.type === 'PodScheduled' && condition.status === 'False',
  );
  if (unscheduled?.reason) {
    return {
      state: 'pending',
      waitingReason: unscheduled.reason,
      message: `${unscheduled.reason}${unscheduled.message ? `: ${unscheduled.message}` : ''}`,
    };
  }
  const reason = pod.status?.reason;
  return {
    state: 'pending',
    ...(reason ? { waitingReason: reason } : {}),
    message: [reason, pod.status?.message].filter(Boolean).join(': ') || 'pending',
  };
}

/** One lease state from its pods: any failure fails it; all must complete to complete it. */
export function combine(statuses: ReadonlyArray<{ pod: string; status: WorkloadStatus }>): WorkloadStatus {
  for (const state of ['failed', 'stopped'] as const) {
    const hit = statuses.find(({ status }) => status.state === state);
    if (hit) return { ...hit.status, message: `${hit.pod}: ${hit.status.message ?? state}` };
  }
  if (statuses.every(({ status }) => status.state === 'completed')) return { state: 'completed', exitCode: 0 };
  for (const state of ['unknown', 'pending'] as const) {
    const hit = statuses.find(({ status }) => status.state === state);
    if (hit) return { ...hit.status, message: `${hit.pod}: ${hit.status.message ?? state}` };
  }
  const noted = statuses.find(({ status }) => status.message);
  return noted ? { state: 'running', message: `${noted.pod}: ${noted.status.message}` } : { state: 'running' };
}
