import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { DATABASE } from '../../platform/database/database.module.js';
import type { Database } from '../../platform/database/database.js';
import type { CreateBidDto } from '../bids/bid.dto.js';
import { BidsService } from '../bids/bids.service.js';
import { NodesService } from '../inventory/nodes.service.js';
import { ProvidersService } from '../providers/providers.service.js';
import { TenantsService } from '../tenants/tenants.service.js';
import { DEMO_FLEET } from './demo-fleet.js';
import { DemoRepository } from './demo.repository.js';

const DEMO_TENANT = 'demo-background-demand';

/**
 * What `npm start` with no configuration shows: a simulated provider with a small
 * heterogeneous fleet, and a background tenant whose bursty bids keep the pools busy enough for
 * prices to move. On by default only on the embedded database (DEMO_FLEET=auto); never on an
 * operator's own PostgreSQL unless DEMO_FLEET=true.
 */
@Injectable()
export class DemoService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Demo');
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly database: Database,
    private readonly repository: DemoRepository,
    private readonly providers: ProvidersService,
    private readonly nodes: NodesService,
    private readonly tenants: TenantsService,
    private readonly bids: BidsService,
  ) {}

  private get enabled(): boolean {
    return this.config.demoFleet === 'true' || (this.config.demoFleet === 'auto' && this.database.embedded);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    if ((await this.repository.providerCount()) === 0) {
      const provider = await this.providers.create('demo-fleet', 'simulated');
      await this.nodes.upsert(provider.id, DEMO_FLEET);
      this.logger.log(
        `seeded a simulated demo fleet: ${DEMO_FLEET.length} nodes, ${DEMO_FLEET.reduce((s, n) => s + n.gpus, 0)} GPUs (DEMO_FLEET=false turns this off)`,
      );
    }
    const tenantId = await this.demoTenant();
    this.timer = setInterval(
      () => void this.submitDemand(tenantId).catch(() => {}),
      (this.config.roundPeriodSeconds * 1000) / 2,
    );
    this.timer.unref();
    await this.submitDemand(tenantId);
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async demoTenant(): Promise<string> {
    return (await this.repository.tenantIdByName(DEMO_TENANT)) ?? (await this.tenants.create(DEMO_TENANT)).id;
  }

  /** A burst of a few bids: mostly small preemptible jobs, now and then a large training gang. */
  private async submitDemand(tenantId: string): Promise<void> {
    const burst = 1 + Math.floor(Math.random() * 4);
    for (let i = 0; i < burst; i++) {
      const big = Math.random() < 0.15;
      const h100 = (1.8 + Math.random() * (big ? 3 : 1.5)).toFixed(2);
      const bid: CreateBidDto = {
        gpus: big ? 16 : [1, 2, 4, 8][Math.floor(Math.random() * 4)],
        offers: [
          { gpuModel: 'H100-SXM-80GB', maxPrice: h100 },
          { gpuModel: 'A100-SXM-80GB', maxPrice: (Number(h100) * 0.55).toFixed(2) },
        ],
        contiguity: big ? 'block' : 'node',
        preemptible: !big,
        runtimeSeconds: 60 * (5 + Math.floor(Math.random() * 40)),
        workload: { image: 'demo/sleep', command: ['sleep', 'infinity'] },
      } as CreateBidDto;
      await this.bids.submit(tenantId, bid);
    }
  }
}
