import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { DATABASE } from '../../platform/database/database.module.js';
import type { Database } from '../../platform/database/database.js';
import { HealthRepository } from './health.repository.js';

export interface Probe {
  status: 'up' | 'down';
  latencyMs: number;
  error?: string;
}

export interface Health {
  status: 'ok' | 'degraded';
  database: Probe & { embedded: boolean };
  redis?: Probe;
}

const PROBE_TIMEOUT_MS = 2_000;

async function probe(check: () => Promise<unknown>): Promise<Probe> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

@Injectable()
export class HealthService implements OnApplicationShutdown {
  private readonly redis: Redis | null;

  constructor(
    private readonly repository: HealthRepository,
    @Inject(DATABASE) private readonly database: Database,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.redis = config.redisUrl
      ? new Redis(config.redisUrl, {
          lazyConnect: true,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          connectTimeout: PROBE_TIMEOUT_MS,
        })
      : null;
    // Connection errors are reported by the probe; without a listener ioredis would log each retry.
    this.redis?.on('error', () => undefined);
  }

  async check(): Promise<Health> {
    const [database, redis] = await Promise.all([
      probe(() => this.repository.ping()),
      this.redis ? probe(() => this.pingRedis(this.redis!)) : Promise.resolve(undefined),
    ]);
    const up = database.status === 'up' && (redis === undefined || redis.status === 'up');
    return {
      status: up ? 'ok' : 'degraded',
      database: { ...database, embedded: this.database.embedded },
      ...(redis ? { redis } : {}),
    };
  }

  private async pingRedis(redis: Redis): Promise<void> {
    if (redis.status === 'wait' || redis.status === 'end') await redis.connect();
    await redis.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.redis && this.redis.status !== 'end') this.redis.disconnect();
  }
}
