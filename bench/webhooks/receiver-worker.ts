import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';

/**
 * The bench's receiver, on a thread of its own: a receiver is never in the service's process, and
 * parsing 1,000 requests on the service's event loop would be measured as the service's delay.
 * It notes when each request had arrived in full (the monotonic clock, which both threads share)
 * and hands the notes to the bench every few milliseconds, so the bench's thread is not woken
 * once per request either.
 */
const now = () => Number(process.hrtime.bigint()) / 1e6;
let arrivals: Array<[string, number]> = [];
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    const at = now();
    arrivals.push([(JSON.parse(body) as { data: { n: string } }).data.n, at]);
    response.writeHead(204).end();
  });
});
setInterval(() => {
  if (arrivals.length === 0) return;
  parentPort!.postMessage({ arrivals });
  arrivals = [];
}, 5);
parentPort!.on('message', (message: string) => {
  if (message !== 'close') return;
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as AddressInfo).port }));
