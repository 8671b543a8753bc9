import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The raw body, byte for byte as sent (what the signature covers). */
  readonly rawBody: string;
  readonly body: { id: string; type: string; createdAt: string; data: Record<string, unknown> };
  /** Date.now() when the request had arrived in full. */
  readonly receivedAt: number;
  /** What the receiver answered. */
  readonly status: number;
}

/** What to answer a request: a status code, or 'hang' to never answer (a timeout). */
export type Answer = number | 'hang';

/**
 * A real HTTP receiver on 127.0.0.1 for webhook tests: it records every request and answers
 * with `answer` (by default 200). Paths let one receiver stand for several endpoints.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** `count`: this request's number on its path, 1 for the first; `body`: the request's parsed body. */
  answer: (path: string, count: number, body: ReceivedWebhook['body']) => Answer = () => 200;
  private server: Server | null = null;
  private port = 0;

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '/';
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body: ReceivedWebhook['body'];
        try {
          body = JSON.parse(rawBody);
        } catch {
          body = { id: '', type: '', createdAt: '', data: {} };
        }
        const answer = this.answer(path, this.received.filter((r) => r.path === path).length + 1, body);
        this.received.push({
          path,
          headers: request.headers,
          rawBody,
          body,
          receivedAt: Date.now(),
          status: answer === 'hang' ? 0 : answer,
        });
        if (answer !== 'hang') response.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  on(path: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }
}

export { until } from '../../support/until.js';

/** Configuration for an app that sends webhooks to the local receiver quickly. */
export const WEBHOOK_TEST_ENV: Readonly<Record<string, string>> = {
  WEBHOOK_SECRET_KEY: 'ab'.repeat(32),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  WEBHOOK_RETRY_BASE_MS: '50',
  WEBHOOK_RETRY_MAX_MS: '200',
  WEBHOOK_TIMEOUT_MS: '1000',
};
