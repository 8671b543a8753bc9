import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { WorkloadRunner } from '../../../src/agent/workload-runner.js';

/**
 * No Kubernetes API server can run on this machine, so the kubernetes adapter is tested against
 * this: the subset of the core/v1 API it uses (read node; create, read, list by label selector and
 * delete pods), with Kubernetes' status codes and Status bodies, plus a small kubelet that runs a
 * pod's container command as a local process (the image is ignored), hands out `nvidia.com/gpu`
 * device indices as the NVIDIA device plugin would (NVIDIA_VISIBLE_DEVICES), rejects pods that do
 * not fit (OutOfnvidia.com/gpu), and on delete sends SIGTERM, then SIGKILL after the grace period.
 *
 * Deletion follows the API server, per the Kubernetes API reference for ObjectMeta
 * (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/):
 * `deletionTimestamp` is "RFC 3339 date and time at which this resource will be deleted", set by
 * the server when a graceful deletion is requested, i.e. the time of the delete plus the grace
 * period, and it "may not be unset or be set further into the future, although it may be
 * shortened"; `deletionGracePeriodSeconds` is the grace period, "only set when deletionTimestamp
 * is also set. May only be shortened." As the API server's graceful delete does (apiserver
 * registry rest.BeforeDelete, pod strategy CheckGracefulDelete): the grace is the request's
 * gracePeriodSeconds, else the pod's terminationGracePeriodSeconds; a pod that has finished
 * (Succeeded, Failed) or is not bound to a node is deleted at once; a second delete takes effect
 * only with a shorter grace, and then the deadline is the first delete's time plus the new grace;
 * a grace of 0 removes the pod from the API at once, while its containers are still killed by the
 * kubelet afterwards (what `kubectl delete --force --grace-period=0` does).
 *
 * Images named in `unpullableImages` cannot be pulled: the pod stays Pending with its container
 * waiting on ErrImagePull, then ImagePullBackOff, as the kubelet reports it.
 */
interface FakeNode {
  readonly name: string;
  readonly gpus: number;
}

interface PodRecord {
  pod: V1Pod;
  pid?: number;
  exitFile?: string;
  gpuIndices: number[];
  killAt?: number;
}

export class FakeKubeApiServer {
  readonly requests: Array<{ method: string; path: string }> = [];
  private readonly pods = new Map<string, PodRecord>();
  private readonly runner = new WorkloadRunner(mkdtempSync(join(tmpdir(), 'gpumarket-kubelet-')));
  private server?: Server;
  private kubelet?: NodeJS.Timeout;
  private resourceVersion = 1;
  /** Answer the next N requests with 503, as an overloaded API server does. */
  failNext = 0;
  /** Images the kubelet cannot pull (the pod waits on ErrImagePull / ImagePullBackOff). */
  readonly unpullableImages = new Set<string>();
  /** Containers of pods already removed from the API (grace 0) that the kubelet still has to kill. */
  private readonly orphans: PodRecord[] = [];

  constructor(
    private readonly nodes: readonly FakeNode[],
    readonly token: string,
  ) {}

  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      this.route(request, response).catch((error: unknown) => status(response, 500, 'InternalError', String(error)));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.kubelet = setInterval(() => this.syncPods(), 50);
  }

  async stop(): Promise<void> {
    if (this.kubelet) clearInterval(this.kubelet);
    for (const record of this.pods.values()) if (record.pid) this.runner.signal(record.pid, 'SIGKILL');
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** What the API server stores for a pod (the test's view of the spec the adapter sent). */
  storedPod(namespace: string, name: string): V1Pod | undefined {
    return this.pods.get(`${namespace}/${name}`)?.pod;
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://api');
    this.requests.push({ method: request.method ?? '', path: url.pathname });
    if (request.headers.authorization !== `Bearer ${this.token}`)
      return status(response, 401, 'Unauthorized', 'Unauthorized');
    if (this.failNext > 0) {
      this.failNext -= 1;
      return status(response, 503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    }
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(url.pathname);
    if (request.method === 'GET' && node) {
      const found = this.nodes.find((candidate) => candidate.name === node[1]);
      if (!found) return status(response, 404, 'NotFound', `nodes "${node[1]}" not found`);
      const gpus = String(found.gpus);
      return json(response, 200, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: found.name, labels: { 'kubernetes.io/hostname': found.name } },
        status: { capacity: { 'nvidia.com/gpu': gpus }, allocatable: { 'nvidia.com/gpu': gpus } },
      });
    }
    const collection = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    if (collection && request.method === 'POST')
      return this.create(collection[1]!, (await readJson(request)) as V1Pod, response);
    if (collection && request.method === 'GET')
      return this.list(collection[1]!, url.searchParams.get('labelSelector'), response);
    const item = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname);
    if (item && request.method === 'GET') {
      const record = this.pods.get(`${item[1]}/${item[2]}`);
      return record
        ? json(response, 200, record.pod)
        : status(response, 404, 'NotFound', `pods "${item[2]}" not found`);
    }
    if (item && request.method === 'DELETE') {
      const body = (await readJson(request).catch(() => ({}))) as { gracePeriodSeconds?: number };
      const query = url.searchParams.get('gracePeriodSeconds');
      const grace = query !== null ? Number(query) : body.gracePeriodSeconds;
      return this.delete(`${item[1]}/${item[2]}`, item[2]!, grace, response);
    }
    return status(response, 404, 'NotFound', `the server could not find the requested resource`);
  }

  private create(namespace: string, pod: V1Pod, response: ServerResponse): void {
    const name = pod.metadata?.name;
    if (!name) return status(response, 422, 'Invalid', 'metadata.name: Required value');
    const key = `${namespace}/${name}`;
    if (this.pods.has(key)) return status(response, 409, 'AlreadyExists', `pods "${name}" already exists`);
    const stored: V1Pod = {
      ...pod,
      metadata: {
        ...pod.metadata,
        namespace,
        uid: randomUUID(),
        resourceVersion: String(this.resourceVersion++),
        creationTimestamp: new Date(),
      },
      status: { phase: 'Pending' },
    };
    this.pods.set(key, { pod: stored, gpuIndices: [] });
    json(response, 201, stored);
  }

  private list(namespace: string, selector: string | null, response: ServerResponse): void {
    const wanted = (selector ?? '')
      .split(',')
      .filter((term) => term !== '')
      .map((term) => term.split('=') as [string, string]);
    const items = [...this.pods.entries()]
      .filter(([key]) => key.startsWith(`${namespace}/`))
      .map(([, record]) => record.pod)
      .filter((pod) => wanted.every(([label, value]) => pod.metadata?.labels?.[label] === value));
    json(response, 200, { apiVersion: 'v1', kind: 'PodList', metadata: {}, items });
  }

  private delete(key: string, name: string, grace: number | undefined, response: ServerResponse): void {
    const record = this.pods.get(key);
    if (!record) return status(response, 404, 'NotFound', `pods "${name}" not found`);
    const meta = record.pod.metadata!;
    const finished = record.pod.status?.phase === 'Succeeded' || record.pod.status?.phase === 'Failed';
    let seconds = grace ?? record.pod.spec?.terminationGracePeriodSeconds ?? 30;
    if (finished || !record.pod.spec?.nodeName) seconds = 0;
    if (meta.deletionTimestamp) {
      // Already terminating: only a shorter grace changes anything, counted from the first delete.
      const current = meta.deletionGracePeriodSeconds ?? 0;
      if (seconds >= current) return json(response, 200, record.pod);
      const firstDelete = new Date(meta.deletionTimestamp).getTime() - current * 1000;
      meta.deletionTimestamp = new Date(firstDelete + seconds * 1000);
      meta.deletionGracePeriodSeconds = seconds;
    } else {
      meta.deletionTimestamp = new Date(Date.now() + seconds * 1000);
      meta.deletionGracePeriodSeconds = seconds;
      if (record.pid && seconds > 0) this.runner.signal(record.pid, 'SIGTERM');
    }
    record.killAt = new Date(meta.deletionTimestamp).getTime();
    meta.resourceVersion = String(this.resourceVersion++);
    if (seconds === 0) {
      // Gone from the API now; the kubelet kills what still runs on its next pass.
      this.pods.delete(key);
      if (record.pid && !finished) this.orphans.push(record);
    }
    json(response, 200, record.pod);
  }

  /** The kubelet's loop: admit and start new pods, notice exits, finish deletions. */
  private syncPods(): void {
    for (const orphan of this.orphans.splice(0)) this.runner.signal(orphan.pid!, 'SIGKILL');
    for (const [key, record] of this.pods) {
      const pod = record.pod;
      const deleting = pod.metadata?.deletionTimestamp !== undefined;
      if (pod.status?.phase === 'Pending' && !record.pid && !deleting) this.admit(record);
      if (record.pid && pod.status?.phase === 'Running') {
        if (deleting && record.killAt !== undefined && Date.now() >= record.killAt)
          this.runner.signal(record.pid, 'SIGKILL');
        const check = this.runner.check({ pid: record.pid, exitFile: record.exitFile! });
        if (check.ended) {
          const exitCode = check.exitCode ?? 137;
          pod.status = {
            ...pod.status,
            phase: exitCode === 0 ? 'Succeeded' : 'Failed',
            containerStatuses: [
              {
                name: 'workload',
                image: '',
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } },
              },
            ],
          };
        }
      }
      const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
      if (deleting && (finished || !record.pid)) this.pods.delete(key);
    }
  }

  private admit(record: PodRecord): void {
    const pod = record.pod;
    const node = this.nodes.find((candidate) => candidate.name === pod.spec?.nodeName);
    if (!node) return; // Bound to a node with no kubelet: stays Pending, as on a real cluster.
    const container = pod.spec!.containers[0]!;
    if (container.image && this.unpullableImages.has(container.image)) {
      // The kubelet's image puller: the first failure is ErrImagePull, then it backs off.
      const previous = pod.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      const reason =
        previous === 'ErrImagePull' || previous === 'ImagePullBackOff' ? 'ImagePullBackOff' : 'ErrImagePull';
      pod.status = {
        phase: 'Pending',
        containerStatuses: [
          {
            name: 'workload',
            image: container.image,
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason, message: `Back-off pulling image "${container.image}"` } },
          },
        ],
      };
      return;
    }
    const requested = Number(container.resources?.limits?.['nvidia.com/gpu'] ?? 0);
    const used = new Set(
      [...this.pods.values()]
        .filter(
          (other) =>
            other !== record && other.pod.spec?.nodeName === node.name && other.pod.status?.phase === 'Running',
        )
        .flatMap((other) => other.gpuIndices),
    );
    const free = Array.from({ length: node.gpus }, (_, i) => i).filter((i) => !used.has(i));
    if (requested > free.length) {
      pod.status = {
        phase: 'Failed',
        reason: 'OutOfnvidia.com/gpu',
        message: `Pod was rejected: Node didn't have enough resource: nvidia.com/gpu, requested: ${requested}, used: ${used.size}, capacity: ${node.gpus}`,
      };
      return;
    }
    record.gpuIndices = free.slice(0, requested);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NVIDIA_VISIBLE_DEVICES: record.gpuIndices.join(','),
    };
    for (const variable of container.env ?? []) {
      const field = variable.valueFrom?.fieldRef?.fieldPath;
      env[variable.name] =
        field === 'spec.nodeName'
          ? node.name
          : field === 'metadata.name'
            ? pod.metadata!.name!
            : (variable.value ?? '');
    }
    const started = this.runner.start(
      `${pod.metadata!.namespace}-${pod.metadata!.name}`,
      [...(container.command ?? []), ...(container.args ?? [])],
      env,
    );
    record.pid = started.pid;
    record.exitFile = started.exitFile;
    pod.status = {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'workload',
          image: container.image ?? '',
          imageID: '',
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: new Date() } },
        },
      ],
    };
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : JSON.parse(text);
}

function json(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function status(response: ServerResponse, code: number, reason: string, message: string): void {
  json(response, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}
