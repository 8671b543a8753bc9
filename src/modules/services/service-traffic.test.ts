import { describe, expect, it } from 'vitest';
import { ServiceTraffic } from './service-traffic.js';

describe('ServiceTraffic', () => {
  it('samples the exact mean concurrency of each interval, held requests included', () => {
    const traffic = new ServiceTraffic(0);
    traffic.started('r1', 0); // 1 in flight for the whole second
    traffic.started('r1', 500); // a second one for its last half
    expect(traffic.sample(1000)).toEqual({ at: 1000, seconds: 1, concurrency: 1.5 });
    traffic.finished('r1', 1000);
    traffic.finished('r1', 1500);
    const held = { request: {} as never, response: {} as never, heldAt: 1500, timer: setTimeout(() => {}, 0) };
    traffic.hold(held); // held from 1.5 s to 2 s
    expect(traffic.sample(2000).concurrency).toBe(1);
    expect(traffic.release(held, 2000)).toBe(true);
    expect(traffic.release(held, 2000)).toBe(false);
    expect(traffic.sample(3000).concurrency).toBe(0);
  });

  it('routes to the ready replica with the fewest requests in flight, and never to one left out', () => {
    const traffic = new ServiceTraffic(0);
    expect(traffic.pick()).toBeNull();
    traffic.setRoutable([
      { id: 'a', endpoint: 'h:1' },
      { id: 'b', endpoint: 'h:2' },
    ]);
    traffic.started('a', 0);
    expect(traffic.pick()?.id).toBe('b');
    traffic.started('b', 0);
    traffic.started('b', 0);
    expect(traffic.pick()?.id).toBe('a');
    // Draining: out of routing, its requests still counted until they finish.
    traffic.setRoutable([{ id: 'b', endpoint: 'h:2' }]);
    expect(traffic.pick()?.id).toBe('b');
    expect(traffic.inFlightOn('a')).toBe(1);
    traffic.unroute('b');
    expect(traffic.hasRoutable()).toBe(false);
  });
});
