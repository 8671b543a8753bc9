import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from './platform/config/config.js';
import type { Database } from './platform/database/database.js';
import { DatabaseModule } from './platform/database/database.module.js';
import { AuthModule } from './modules/auth/auth.module.js';
import { BidsModule } from './modules/bids/bids.module.js';
import { HealthModule } from './modules/health/health.module.js';
import { InventoryModule } from './modules/inventory/inventory.module.js';
import { ProvidersModule } from './modules/providers/providers.module.js';
import { TenantsModule } from './modules/tenants/tenants.module.js';
import { DemoModule } from './modules/demo/demo.module.js';
import { DispatchModule } from './modules/dispatch/dispatch.module.js';
import { MarketModule } from './modules/market/market.module.js';
import { MarketApiModule } from './modules/market-api/market-api.module.js';
import { QuotesModule } from './modules/quotes/quotes.module.js';
import { ReportsModule } from './modules/reports/reports.module.js';
import { DashboardModule } from './modules/dashboard/dashboard.module.js';
import { AgentGatewayModule } from './modules/agent-gateway/agent-gateway.module.js';
import { JobQueueModule } from './platform/queue/job-queue.module.js';
import { WebhooksModule } from './modules/webhooks/webhooks.module.js';
import { RetentionModule } from './modules/retention/retention.module.js';
import { ServicesModule } from './modules/services/services.module.js';

@Global()
@Module({})
class ConfigModule {
  static forConfig(config: AppConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, database: Database): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forConfig(config),
        DatabaseModule.forDatabase(database),
        JobQueueModule.forRoot(),
        AuthModule,
        TenantsModule,
        ProvidersModule,
        InventoryModule,
        BidsModule,
        HealthModule,
        MarketModule,
        DispatchModule,
        MarketApiModule,
        QuotesModule,
        DemoModule,
        ReportsModule,
        DashboardModule,
        AgentGatewayModule,
        WebhooksModule,
        RetentionModule,
        ServicesModule,
      ],
    };
  }
}
