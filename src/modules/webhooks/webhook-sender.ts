import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { hostOf, type ResolvedAddress } from './webhook-targets.js';

export interface SendOutcome {
  /** The receiver's status code; null when no answer came (refused, reset, timed out). */
  readonly statusCode: number | null;
  /** From the request to the answer's status line, in milliseconds. */
  readonly latencyMs: number;
  /** Null on a 2xx answer. */
  readonly error: string | null;
}

// Keep-alive: a busy endpoint gets its deliveries over a few reused connections instead of a
// handshake each. Every pooled socket was opened through a pinned, checked address.
const AGENTS = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 }),
};

/** A lookup that answers only with the addresses already checked, so the socket goes there. */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all)
      callback(
        null,
        addresses.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, addresses[0].address, addresses[0].family);
  }) as LookupFunction;
}

/**
 * POSTs one delivery. Redirects are not followed (a 3xx is a failure): a redirect could lead
 * anywhere, including where the target check would not let the delivery go. The whole exchange
 * has `timeoutMs`; the answer's body is read and dropped so the connection can be reused.
 */
export function postWebhook(
  url: URL,
  addresses: readonly ResolvedAddress[],
  headers: Readonly<Record<string, string>>,
  body: string,
  timeoutMs: number,
): Promise<SendOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const transport = url.protocol === 'https:' ? https : http;
    const request = transport.request({
      method: 'POST',
      protocol: url.protocol,
      hostname: hostOf(url),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      agent: AGENTS[url.protocol as 'http:' | 'https:'],
      lookup: pinnedLookup(addresses),
    });
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    request.on('response', (response) => {
      const statusCode = response.statusCode ?? 0;
      const ok = statusCode >= 200 && statusCode < 300;
      const redirect = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : '';
      finish({ statusCode, latencyMs: elapsed(), error: ok ? null : `HTTP ${statusCode}${redirect}` });
      response.on('end', () => clearTimeout(timer));
      response.on('error', () => clearTimeout(timer));
      response.resume();
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      finish({ statusCode: null, latencyMs: elapsed(), error: error.message || String(error) });
    });
    request.end(body);
  });
}
