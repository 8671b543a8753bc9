import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request as httpRequest,
  type ServerResponse,
} from 'node:http';
import { Injectable, Logger } from '@nestjs/common';
import { ApiKeyService } from '../auth/api-key.service.js';
import { ServicesRepository, type ServiceRow } from './services.repository.js';
import { type HeldRequest, type RoutableReplica, ServiceTraffic } from './service-traffic.js';

const INVOKE_PATH = /^\/v1\/services\/([0-9a-fA-F-]{36})\/invoke(\/[^?]*)?(\?.*)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Headers of one hop (RFC 9110 7.6.1) and the caller's credential: not passed on. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'host',
  'authorization',
]);
const NOT_RETURNED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'trailer',
  'upgrade',
]);
/** What a 503 for a full queue tells the caller to wait, seconds. */
export const RETRY_AFTER_SECONDS = 2;

export function hashInvokeKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function isInvokePath(url: string | undefined): boolean {
  return url !== undefined && url.startsWith('/v1/services/') && INVOKE_PATH.test(url);
}

/**
 * `ANY /v1/services/:id/invoke/*`: proxies to a ready replica of the service (the one with the
 * fewest requests in flight), streaming both ways; with none ready, holds the request until one
 * is (at most maxPendingRequests, then 503 with Retry-After; 504 after pendingTimeoutSeconds)
 * and asks the runner to start one at once. It sits in front of the API's router on the same
 * HTTP server, so a request body is never parsed or buffered on the way.
 */
@Injectable()
export class ServicesGateway {
  private readonly logger = new Logger('ServicesGateway');
  private readonly traffic = new Map<string, ServiceTraffic>();
  private readonly services = new Map<string, ServiceRow>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
  /** Set by the runner: a request was held for this service. */
  onHeld: (serviceId: string) => void = () => {};

  constructor(
    private readonly apiKeys: ApiKeyService,
    private readonly repository: ServicesRepository,
  ) {}

  /** Every service this gateway has counted traffic for. */
  allTraffic(): ReadonlyMap<string, ServiceTraffic> {
    return this.traffic;
  }

  trafficOf(serviceId: string): ServiceTraffic {
    let traffic = this.traffic.get(serviceId);
    if (!traffic) {
      traffic = new ServiceTraffic(Date.now());
      this.traffic.set(serviceId, traffic);
    }
    return traffic;
  }

  /** The service as the runner last read it (or as it was just written). */
  remember(service: ServiceRow): void {
    // A service being deleted takes no more requests: the ones it holds are answered now.
    const held = service.state === 'active' ? [] : [...(this.traffic.get(service.id)?.held ?? [])];
    for (const entry of held) {
      this.traffic.get(service.id)!.release(entry, Date.now());
      fail(entry.response, 404, 'service_not_found', `service ${service.id} was deleted`, requestIdOf(entry.request));
    }
    if (service.state === 'deleted') {
      this.services.delete(service.id);
      this.traffic.delete(service.id);
    } else this.services.set(service.id, service);
  }

  /** The replicas to route to from now on; held requests go to them at once. */
  route(serviceId: string, replicas: readonly RoutableReplica[]): void {
    const traffic = this.trafficOf(serviceId);
    traffic.setRoutable(replicas);
    while (traffic.hasRoutable() && traffic.held.length > 0) {
      const entry = traffic.held[0]!;
      traffic.release(entry, Date.now());
      this.forward(serviceId, traffic, entry.request, entry.response);
    }
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const match = INVOKE_PATH.exec(request.url ?? '');
    const requestId = requestIdOf(request);
    response.setHeader('x-request-id', requestId);
    try {
      const serviceId = match![1]!.toLowerCase();
      const service = UUID.test(serviceId) ? await this.lookup(serviceId) : null;
      if (!service || service.state !== 'active')
        return fail(response, 404, 'service_not_found', `no service ${serviceId}`, requestId);
      const allowed = await this.authorised(service, request.headers.authorization);
      if (allowed === 'missing')
        return fail(
          response,
          401,
          'api_key_missing',
          "send Authorization: Bearer <the tenant's API key or the service's invoke key>",
          requestId,
        );
      if (allowed === 'invalid')
        return fail(
          response,
          401,
          'api_key_invalid',
          "the key is neither the service's invoke key nor an API key of its tenant",
          requestId,
        );
      const traffic = this.trafficOf(service.id);
      const now = Date.now();
      traffic.arrived(now);
      if (traffic.hasRoutable()) return this.forward(service.id, traffic, request, response);
      this.hold(service, traffic, request, response, requestId, now);
    } catch (error) {
      this.logger.error(
        `request ${requestId} to a service failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
      if (!response.headersSent) fail(response, 500, 'internal_error', 'internal error', requestId);
      else response.destroy();
    }
  }

  /** Answers every held request 503 (the server is closing). */
  close(): void {
    for (const traffic of this.traffic.values()) {
      for (const entry of [...traffic.held]) {
        traffic.release(entry, Date.now());
        response503(entry.response, 'service_unavailable', 'the gateway is shutting down');
      }
    }
    this.agent.destroy();
  }

  private hold(
    service: ServiceRow,
    traffic: ServiceTraffic,
    request: IncomingMessage,
    response: ServerResponse,
    requestId: string,
    now: number,
  ): void {
    if (traffic.held.length >= service.maxPendingRequests) {
      traffic.rejected += 1;
      return response503(
        response,
        'service_queue_full',
        `no replica is ready and ${service.maxPendingRequests} requests are already held`,
      );
    }
    const entry: HeldRequest = {
      request,
      response,
      heldAt: now,
      timer: setTimeout(() => {
        if (!traffic.release(entry, Date.now())) return;
        traffic.timedOut += 1;
        fail(
          response,
          504,
          'service_start_timeout',
          `no replica was ready within ${service.pendingTimeoutSeconds} s`,
          requestId,
        );
      }, service.pendingTimeoutSeconds * 1000),
    };
    traffic.hold(entry);
    // A client that gives up leaves the queue (and stops counting as demand).
    response.once('close', () => traffic.release(entry, Date.now()));
    this.onHeld(service.id);
  }

  private forward(
    serviceId: string,
    traffic: ServiceTraffic,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    const replica = traffic.pick()!;
    const [host, port] = splitEndpoint(replica.endpoint);
    const match = INVOKE_PATH.exec(request.url ?? '');
    const path = `${match?.[2] ?? '/'}${match?.[3] ?? ''}`;
    const started = Date.now();
    traffic.started(replica.id, started);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      traffic.finished(replica.id, Date.now());
    };
    const upstream = httpRequest({
      host,
      port,
      method: request.method,
      path,
      headers: forwardedHeaders(request),
      agent: this.agent,
    });
    upstream.once('response', (reply) => {
      response.writeHead(reply.statusCode ?? 502, returnedHeaders(reply.headers));
      reply.pipe(response);
      reply.once('end', finish);
      reply.once('error', () => {
        finish();
        response.destroy();
      });
    });
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      finish();
      if (response.headersSent) return void response.destroy();
      // Nothing reached the replica and nothing was read of the body: the request may go to
      // another replica, or wait for one (a replica that just stopped, the one being replaced).
      // A kept-alive connection the replica closed as the request went out (it is stopping) was
      // reset before any answer: the request was not served, so it is sent again too.
      const notServed =
        error.code === 'ECONNREFUSED' ||
        (upstream.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE'));
      if (notServed && !hasBody(request)) {
        traffic.unroute(replica.id);
        const service = this.services.get(serviceId);
        if (traffic.hasRoutable()) return this.forward(serviceId, traffic, request, response);
        if (service) return this.hold(service, traffic, request, response, requestIdOf(request), Date.now());
      }
      fail(
        response,
        502,
        'replica_unreachable',
        `replica ${replica.id} did not answer: ${error.code ?? error.message}`,
        requestIdOf(request),
      );
    });
    // The caller went away mid-answer: stop the upstream request too.
    response.once('close', () => {
      if (!response.writableFinished) upstream.destroy();
      finish();
    });
    // A request sent back after a refused connection has no body left to read.
    if (request.readableEnded) upstream.end();
    else request.pipe(upstream);
  }

  private async lookup(serviceId: string): Promise<ServiceRow | null> {
    const known = this.services.get(serviceId);
    if (known) return known;
    const row = await this.repository.findById(serviceId);
    if (row && row.state !== 'deleted') this.services.set(row.id, row);
    return row;
  }

  private async authorised(service: ServiceRow, header: string | undefined): Promise<'ok' | 'missing' | 'invalid'> {
    const key = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (!key) return 'missing';
    const hash = Buffer.from(hashInvokeKey(key), 'hex');
    const expected = Buffer.from(service.invokeKeyHash, 'hex');
    if (hash.length === expected.length && timingSafeEqual(hash, expected)) return 'ok';
    const principal = await this.apiKeys.resolve(key);
    return principal?.role === 'tenant' && principal.tenantId === service.tenantId ? 'ok' : 'invalid';
  }
}

/**
 * The caller's x-request-id if it is sane, else a new one: chosen once per request, sent on to the replica and back.
 */
const REQUEST_IDS = new WeakMap<IncomingMessage, string>();
function requestIdOf(request: IncomingMessage): string {
  let id = REQUEST_IDS.get(request);
  if (id === undefined) {
    const given = request.headers['x-request-id'];
    id = typeof given === 'string' && /^[\x21-\x7e]{1,128}$/.test(given) ? given : randomUUID();
    REQUEST_IDS.set(request, id);
  }
  return id;
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function splitEndpoint(endpoint: string): [string, number] {
  const at = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, at), Number(endpoint.slice(at + 1))];
}

function forwardedHeaders(request: IncomingMessage): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const named = new Set(NOT_FORWARDED);
  for (const token of String(request.headers.connection ?? '').split(',')) named.add(token.trim().toLowerCase());
  for (const [name, value] of Object.entries(request.headers))
    if (!named.has(name) && value !== undefined) headers[name] = value;
  const client = request.socket.remoteAddress ?? '';
  const prior = request.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
  if (request.headers.host) headers['x-forwarded-host'] = request.headers.host;
  headers['x-forwarded-proto'] = 'encrypted' in request.socket ? 'https' : 'http';
  headers['x-request-id'] = requestIdOf(request);
  return headers;
}

function returnedHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers))
    if (!NOT_RETURNED.has(name) && value !== undefined) out[name] = value;
  return out;
}

function fail(response: ServerResponse, status: number, code: string, message: string, requestId: string): void {
  if (response.headersSent || response.destroyed) return;
  const body = JSON.stringify({ error: code, message, requestId });
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}

function response503(response: ServerResponse, code: string, message: string): void {
  if (response.headersSent || response.destroyed) return;
  response.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
  fail(response, 503, code, message, String(response.getHeader('x-request-id') ?? randomUUID()));
}
