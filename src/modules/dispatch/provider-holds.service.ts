import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { IntervalTask } from '../../platform/timers/interval-task.js';
import { AdapterRegistry } from './adapter-registry.service.js';
import type { AdapterKind } from './adapters/provider-adapter.js';
import { ProviderHoldsRepository } from './provider-holds.repository.js';

/** What an adapter that can see its platform's other work offers: GPUs held per node, by external id. */
interface SeesProviderJobs {
  foreignGpuUse(): Promise<Map<string, number>>;
}

const sees = (adapter: object): adapter is SeesProviderJobs =>
  typeof (adapter as Partial<SeesProviderJobs>).foreignGpuUse === 'function';

/** Adapters whose platform also runs the provider's own jobs, and can say where. */
const KINDS: readonly AdapterKind[] = ['slurm'];
const EVERY_MS = 30_000;

/**
 * Keeps the GPUs a provider's own jobs hold out of the market (issue 15, item 3): every 30 s it
 * asks each such provider's adapter (Slurm: running jobs not named `gpumarket-*`) and records
 * them on the nodes, so a round does not place a lease that would only pend behind them until
 * its start timeout. A failed query leaves the last reading in place.
 */
@Injectable()
export class ProviderHoldsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ProviderHolds');
  private readonly task = new IntervalTask(() => this.refresh(), EVERY_MS, 1_000);

  constructor(
    private readonly adapters: AdapterRegistry,
    private readonly holds: ProviderHoldsRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start();
  }

  onApplicationShutdown(): void {
    this.task.stop();
  }

  /** One reading of every provider's platform; returns the nodes whose held GPUs changed. */
  async refresh(): Promise<number> {
    let changed = 0;
    for (const kind of KINDS) {
      for (const providerId of await this.holds.providersOf(kind)) {
        try {
          const adapter = await this.adapters.forProvider(providerId, kind);
          if (!sees(adapter)) continue;
          changed += await this.holds.replace(providerId, await adapter.foreignGpuUse());
        } catch (error) {
          this.logger.warn(
            `provider ${providerId}: cannot read the GPUs its own jobs hold: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
    return changed;
  }
}
