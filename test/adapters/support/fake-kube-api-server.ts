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
    if (request.headers.authorization !== `Bearer ${this.token}`) return status(response, 401, 'Unauthorized', 'Unauthorized');
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
    if (collection && request.method === 'POST') return this.create(collection[1]!, (await readJson(request)) as V1Pod, response);
    if (collection && request.method === 'GET') return this.list(collection[1]!, url.searchParams.get('labelSelector'), response);
    const item = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname);
    if (item && request.method === 'GET') {
      const record = this.pods.get(`${item[1]}/${item[2]}`);
      return record ? json(response, 200, record.pod) : status(response, 404, 'NotFound', `pods "${item[2]}" not found`);
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
    const seconds = grace ?? record.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const killAt = Date.now() + seconds * 1000;
    if (!record.pod.metadata!.deletionTimestamp) {
      record.pod.metadata!.deletionTimestamp = new Date();
      record.pod.metadata!.deletionGracePeriodSeconds = seconds;
      record.killAt = killAt;
      if (record.pid) this.runner.signal(record.pid, seconds > 0 ? 'SIGTERM' : 'SIGKILL');
    } else if (killAt < (record.killAt ?? Infinity)) {
      // As the API server does: a second delete may shorten the grace period, never lengthen it.
      record.pod.metadata!.deletionGracePeriodSeconds = seconds;
      record.killAt = killAt;
    }
    json(response, 200, record.pod);
  }

  /** The kubelet's loop: admit and start new pods, notice exits, finish deletions. */
  private syncPods(): void {
    for (const [key, record] of this.pods) {
      const pod = record.pod;
      const deleting = pod.metadata?.deletionTimestamp !== undefined;
      if (pod.status?.phase === 'Pending' && !record.pid && !deleting) this.admit(record);
      if (record.pid && pod.status?.phase === 'Running') {
        if (deleting && record.killAt !== undefined && Date.now() >= record.killAt) this.runner.signal(record.pid, 'SIGKILL');
        const check = this.runner.check({ pid: record.pid, exitFile: record.exitFile! });
        if (check.ended) {
          const exitCode = check.exitCode ?? 137;
          pod.status = {
            ...pod.status,
            phase: exitCode === 0 ? 'Succeeded' : 'Failed',
            containerStatuses: [
              { name: 'workload', image: '', imageID: '', ready: false, restartCount: 0,
                state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } } },
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
    const requested = Number(container.resources?.limits?.['nvidia.com/gpu'] ?? 0);
    const used = new Set(
      [...this.pods.values()]
        .filter((other) => other !== record && other.pod.spec?.nodeName === node.name && other.pod.status?.phase === 'Running')
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
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', NVIDIA_VISIBLE_DEVICES: record.gpuIndices.join(',') };
    for (const variable of container.env ?? []) {
      const field = variable.valueFrom?.fieldRef?.fieldPath;
      env[variable.name] = field === 'spec.nodeName' ? node.name : field === 'metadata.name' ? pod.metadata!.name! : variable.value ?? '';
    }
    const started = this.runner.start(`${pod.metadata!.namespace}-${pod.metadata!.name}`, [...(container.command ?? []), ...(container.args ?? [])], env);
    record.pid = started.pid;
    record.exitFile = started.exitFile;
    pod.status = {
      phase: 'Running',
      containerStatuses: [
        { name: 'workload', image: container.image ?? '', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: new Date() } } },
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
