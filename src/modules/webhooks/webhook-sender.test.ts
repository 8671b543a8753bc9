import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook } from './webhook-sender.js';

describe('postWebhook against a local receiver', () => {
  let server: Server;
  let port: number;
  const seen: Array<{ host?: string; body: string; path?: string }> = [];
  let answer: (request: IncomingMessage, respond: (status: number, headers?: Record<string, string>) => void) => void;

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        seen.push({ host: request.headers.host, body, path: request.url });
        answer(request, (status, headers = {}) => response.writeHead(status, headers).end('ok'));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const pinned = [{ address: '127.0.0.1', family: 4 as const }];

  it('connects to the pinned address, whatever the name, and keeps the Host of the URL', async () => {
    answer = (_req, respond) => respond(204);
    seen.length = 0;
    const outcome = await postWebhook(
      new URL(`http://receiver.invalid:${port}/hooks?x=1`),
      pinned,
      { 'content-type': 'application/json' },
      '{"a":1}',
      2_000,
    );
    expect(outcome).toMatchObject({ statusCode: 204, error: null });
    expect(seen).toEqual([{ host: `receiver.invalid:${port}`, body: '{"a":1}', path: '/hooks?x=1' }]);
  });

  it('reports a non-2xx answer as an error with its status', async () => {
    answer = (_req, respond) => respond(503);
    expect(await postWebhook(new URL(`http://127.0.0.1:${port}/`), pinned, {}, '{}', 2_000)).toMatchObject({
      statusCode: 503,
      error: 'HTTP 503',
    });
  });

  it('does not follow a redirect', async () => {
    answer = (_req, respond) => respond(302, { location: 'http://169.254.169.254/' });
    seen.length = 0;
    const outcome = await postWebhook(new URL(`http://127.0.0.1:${port}/`), pinned, {}, '{}', 2_000);
    expect(outcome).toMatchObject({ statusCode: 302, error: 'HTTP 302 (redirects are not followed)' });
    expect(seen).toHaveLength(1);
  });

  it('gives up on a receiver that does not answer in time', async () => {
    answer = () => {}; // never answers
    const outcome = await postWebhook(new URL(`http://127.0.0.1:${port}/`), pinned, {}, '{}', 200);
    expect(outcome).toMatchObject({ statusCode: null, error: 'no answer within 200 ms' });
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(190);
    expect(outcome.latencyMs).toBeLessThan(1_500);
  });

  it('reports a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const outcome = await postWebhook(new URL(`http://127.0.0.1:${closedPort}/`), pinned, {}, '{}', 2_000);
    expect(outcome.statusCode).toBeNull();
    expect(outcome.error).toMatch(/ECONNREFUSED/);
  });
});
