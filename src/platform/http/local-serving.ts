import { networkInterfaces } from 'node:os';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

/**
 * Small pieces shared by the two places that run a service's replica and report its endpoint:
 * the simulated fleet (a local process on the market host) and the node agent (a process or a
 * container on a GPU node). docs/services.md says what each reports.
 */

/** A TCP port free on this host right now (the kernel's choice). */
export async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });
}

/**
 * One readiness probe: `ready` when `path` answers 200, `listening` when something answered
 * (or accepted the connection) but not 200, `down` when nothing listens or it timed out.
 */
export function probeReadiness(port: number, path: string, timeoutMs = 1000): Promise<'ready' | 'listening' | 'down'> {
  return new Promise((resolve) => {
    let connected = false;
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: path.startsWith('/') ? path : `/${path}`,
        method: 'GET',
        timeout: timeoutMs,
        agent: false,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode === 200 ? 'ready' : 'listening');
      },
    );
    request.once('socket', (socket) => socket.once('connect', () => (connected = true)));
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(connected ? 'listening' : 'down'));
    request.end();
  });
}

/**
 * The address other hosts reach this one at: the first non-internal IPv4 address, else the
 * first non-internal IPv6 one, else loopback. A node with several networks names the right one
 * with `gpumarket agent --advertise-host`.
 */
export function defaultAdvertiseHost(): string {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const external = all.filter((address) => !address.internal);
  const v4 = external.find((address) => address.family === 'IPv4');
  if (v4) return v4.address;
  const v6 = external.find((address) => address.family === 'IPv6');
  return v6 ? `[${v6.address}]` : '127.0.0.1';
}
