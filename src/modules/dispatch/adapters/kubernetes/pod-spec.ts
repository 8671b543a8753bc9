import { createHash } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { AdapterError, type GrantedNode, type PlaceOrder } from '../provider-adapter.js';

/** Builds the Pod of one granted node of a lease (pure, tested without an API server). */
export const LEASE_LABEL = 'gpumarket.io/lease';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const GPU_RESOURCE = 'nvidia.com/gpu';

export interface PodSpecOptions {
  /** Image for workloads that give a command but no image. */
  readonly defaultImage?: string;
  /** terminationGracePeriodSeconds: the market's preemption notice. */
  readonly noticeSeconds: number;
  /** For example `nvidia` where the NVIDIA container runtime is a RuntimeClass. */
  readonly runtimeClassName?: string;
  readonly serviceAccountName?: string;
  readonly imagePullSecrets?: readonly string[];
}

/** A label value (<= 63 chars of [A-Za-z0-9._-]); long or odd lease ids are hashed. */
export function leaseLabelValue(leaseId: string): string {
  if (/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(leaseId)) return leaseId;
  return `h-${createHash('sha256').update(leaseId).digest('hex').slice(0, 40)}`;
}

/** A DNS-1123 label: lowercase, <= 63 chars, deterministic so that a repeated create collides. */
export function podName(leaseId: string, index: number): string {
  const slug = leaseId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  const hash = createHash('sha256').update(leaseId).digest('hex').slice(0, 8);
  return `gpm-${slug.slice(0, 40)}-${hash}-${index}`.replace(/-+/g, '-');
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export function buildPod(
  order: PlaceOrder,
  node: GrantedNode,
  index: number,
  namespace: string,
  options: PodSpecOptions,
): V1Pod {
  const image = order.workload.image ?? options.defaultImage;
  if (!image)
    throw AdapterError.permanent('workload.image is required by the kubernetes adapter (or configure a default image)');
  if (!Number.isInteger(node.gpus) || node.gpus < 1)
    throw AdapterError.permanent(`node ${node.externalId}: gpus must be a positive integer`);
  for (const name of Object.keys(order.workload.env ?? {})) {
    if (!ENV_NAME.test(name))
      throw AdapterError.permanent(`workload.env: ${JSON.stringify(name)} is not a valid variable name`);
  }
  const gpus = String(node.gpus);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(order.leaseId, index),
      namespace,
      labels: { [MANAGED_BY_LABEL]: 'gpumarket', [LEASE_LABEL]: leaseLabelValue(order.leaseId) },
      annotations: {
        'gpumarket.io/lease-id': order.leaseId,
        'gpumarket.io/bid-id': order.bidId,
        'gpumarket.io/tenant-id': order.tenantId,
        'gpumarket.io/gpu-model': order.gpuModel,
      },
    },
    spec: {
      // Pinned by binding to the node directly: the market already chose it, the scheduler must not.
      nodeName: node.externalId,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: options.noticeSeconds,
      tolerations: [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }],
      ...(options.runtimeClassName ? { runtimeClassName: options.runtimeClassName } : {}),
      ...(options.serviceAccountName ? { serviceAccountName: options.serviceAccountName } : {}),
      ...(options.imagePullSecrets?.length
        ? { imagePullSecrets: options.imagePullSecrets.map((name) => ({ name })) }
        : {}),
      containers: [
        {
          name: 'workload',
          image,
          ...(order.workload.command?.length ? { command: [...order.workload.command] } : {}),
          env: [
            ...Object.entries(order.workload.env ?? {}).map(([name, value]) => ({ name, value })),
            { name: 'GPUMARKET_LEASE_ID', value: order.leaseId },
            { name: 'GPUMARKET_NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          ],
          resources: { limits: { [GPU_RESOURCE]: gpus }, requests: { [GPU_RESOURCE]: gpus } },
        },
      ],
    },
  };
}
