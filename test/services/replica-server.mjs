// A replica workload for the services tests and benchmark: listens on PORT, answers its
// readiness path once READY_DELAY_MS has passed, and on SIGTERM stops taking connections and
// exits once its in-flight requests have finished.
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
const readyAt = Date.now() + Number(process.env.READY_DELAY_MS ?? 0);

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://replica');
  if (url.pathname === '/ready') {
    response.writeHead(Date.now() >= readyAt ? 200 : 503).end();
    return;
  }
  if (url.pathname === '/echo') {
    response.writeHead(200, { 'content-type': request.headers['content-type'] ?? 'application/octet-stream' });
    request.pipe(response);
    return;
  }
  const ms = Number(url.searchParams.get('ms') ?? 0);
  setTimeout(() => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        pid: process.pid,
        port,
        path: url.pathname,
        authorization: request.headers.authorization ?? null,
        requestId: request.headers['x-request-id'] ?? null,
      }),
    );
  }, ms);
});
server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  // Idle keep-alive connections would hold close() open; in-flight requests still finish.
  server.closeIdleConnections();
});
