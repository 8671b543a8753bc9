import { ApiException, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import {
  AdapterError,
  type PlaceOrder,
  type ProviderAdapter,
  type StatusContext,
  type StopOrder,
  type WorkloadStatus,
} from '../provider-adapter.js';
import { GPU_RESOURCE, LEASE_LABEL, buildPod, leaseLabelValue, type PodSpecOptions } from './pod-spec.js';
import { combine, podStatus } from './pod-status.js';

/**
 * The `kubernetes` adapter: one Pod per granted node, bound to that node, asking
 * `nvidia.com/gpu` for the granted count, labelled with the lease. Preemption deletes the Pods
 * with the notice as grace period: the kubelet sends SIGTERM at once and SIGKILL when it ends.
 */
export interface KubernetesAdapterOptions extends Partial<PodSpecOptions> {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
}

const HANDLE_PREFIX = 'k8s:';

export class KubernetesAdapter implements ProviderAdapter {
  readonly kind = 'kubernetes' as const;
  private readonly api: CoreV1Api;
  private readonly spec: PodSpecOptions;

  constructor(private readonly options: KubernetesAdapterOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.spec = { ...options, noticeSeconds: options.noticeSeconds ?? 120 };
  }

  async place(order: PlaceOrder): Promise<{ handle: string }> {
    if (order.nodes.length === 0) throw AdapterError.permanent('the order grants no nodes');
    const pods = order.nodes.map((node, index) => buildPod(order, node, index, this.options.namespace, this.spec));
    await Promise.all(order.nodes.map((node) => this.checkNode(node.externalId, node.gpus)));
    for (const pod of pods) await this.createOnce(pod, order.leaseId);
    return { handle: `${HANDLE_PREFIX}${this.options.namespace}/${pods.map((pod) => pod.metadata!.name).join(',')}` };
  }

  async preempt(order: StopOrder): Promise<void> {
    await this.stop(order);
  }

  async terminate(order: StopOrder): Promise<void> {
    await this.stop(order);
  }

  /**
   * A Pod that is gone was either deleted by the market's own stop (then `context.stopRequested`:
   * the market's database says a preempt or terminate is due or done, whichever process sent it)
   * or lost behind its back (deleted by someone else, evicted and collected): the platform's
   * failure, not the tenant's.
   */
  async status(leaseId: string, handle: string, context: StatusContext = {}): Promise<WorkloadStatus> {
    const { namespace, names } = parseHandle(handle);
    const statuses = await Promise.all(
      names.map(async (name) => {
        const pod = await this.readPod(namespace, name);
        if (pod) return { pod: name, status: podStatus(pod) };
        const status: WorkloadStatus = context.stopRequested
          ? { state: 'stopped', message: "pod deleted after the market's stop" }
          : {
              state: 'failed',
              cause: 'platform',
              message: 'pod vanished: deleted by someone other than the market, or evicted and collected',
            };
        return { pod: name, status };
      }),
    );
    return combine(statuses);
  }

  /** The lease's Pods, by label (what an operator would list too). */
  async podsOfLease(leaseId: string): Promise<V1Pod[]> {
    const list = await this.call(() =>
      this.api.listNamespacedPod({
        namespace: this.options.namespace,
        labelSelector: `${LEASE_LABEL}=${leaseLabelValue(leaseId)}`,
      }),
    );
    return list.items;
  }

  private async stop(order: StopOrder): Promise<void> {
    const { namespace, names } = parseHandle(order.handle);
    // At least 1 s, as kubectl does without --force: a delete with grace 0 removes the Pod from
    // the API at once, while the kubelet may still be killing its containers; the market would
    // read the lease stopped and resell GPUs still in use. With 1 s the Pod stays visible until
    // the kubelet has confirmed its containers ended.
    const grace = Math.max(1, Math.round(order.graceSeconds));
    for (const name of names) {
      const pod = await this.readPod(namespace, name);
      if (!pod || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
      // A pod already terminating is deleted again only to shorten its grace (terminate during a
      // notice); the API server itself only ever shortens it.
      if (pod.metadata?.deletionTimestamp && remainingGrace(pod) <= grace) continue;
      try {
        await this.call(() => this.api.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: grace }));
      } catch (error) {
        if (!(error instanceof AdapterError && (error.cause as ApiException<unknown>)?.code === 404)) throw error;
      }
    }
  }

  private async checkNode(name: string, gpus: number): Promise<void> {
    let allocatable: string | undefined;
    try {
      const node = await this.api.readNode({ name });
      allocatable = node.status?.allocatable?.[GPU_RESOURCE];
    } catch (error) {
      if (error instanceof ApiException && error.code === 404)
        throw AdapterError.permanent(`node ${name} does not exist`, error);
      throw classify(error, `read node ${name}`);
    }
    const available = Number(allocatable ?? 0);
    if (gpus > available) {
      throw AdapterError.permanent(`node ${name} has ${available} allocatable ${GPU_RESOURCE}; ${gpus} asked`);
    }
  }

  /** Creating a Pod that exists (same deterministic name) is the repeated order, not a new one. */
  private async createOnce(pod: V1Pod, leaseId: string): Promise<void> {
    try {
      await this.api.createNamespacedPod({ namespace: this.options.namespace, body: pod });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 409))
        throw classify(error, `create pod ${pod.metadata!.name}`);
      const existing = await this.readPod(this.options.namespace, pod.metadata!.name!);
      if (existing?.metadata?.labels?.[LEASE_LABEL] !== leaseLabelValue(leaseId)) {
        throw AdapterError.permanent(`pod ${pod.metadata!.name} exists and belongs to another lease`, error);
      }
    }
  }

  private async readPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    try {
      return await this.api.readNamespacedPod({ name, namespace });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw classify(error, `read pod ${name}`);
    }
  }

  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw classify(error, 'kubernetes API call');
    }
  }
}

/** 429, 5xx and network failures may pass; other 4xx (invalid spec, forbidden) will not. */
function classify(error: unknown, what: string): AdapterError {
  if (error instanceof AdapterError) return error;
  if (error instanceof ApiException) {
    const code = error.code;
    const retryable = code === 429 || code >= 500 || code === 408;
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body);
    return new AdapterError(
      retryable ? 'retryable' : 'permanent',
      `${what}: HTTP ${code}: ${body?.slice(0, 300)}`,
      error,
    );
  }
  return AdapterError.retryable(`${what}: ${(error as Error)?.message ?? String(error)}`, error);
}

/**
 * Seconds until the kubelet kills a terminating pod. The API server sets deletionTimestamp to the
 * time of the delete plus the grace period (ObjectMeta: "RFC 3339 date and time at which this
 * resource will be deleted"), so what is left is simply that time minus now.
 */
export function remainingGrace(pod: V1Pod, now: number = Date.now()): number {
  const at = pod.metadata?.deletionTimestamp;
  if (!at) return Infinity;
  return Math.max(0, (new Date(at).getTime() - now) / 1000);
}

function parseHandle(handle: string): { namespace: string; names: string[] } {
  const match = /^k8s:([^/]+)\/(.+)$/.exec(handle);
  if (!match) throw AdapterError.permanent(`${handle} is not a kubernetes handle`);
  return { namespace: match[1]!, names: match[2]!.split(',') };
}
