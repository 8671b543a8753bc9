import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module.js';
import { MarketModule } from '../market/market.module.js';
import { AgentGatewayController } from './agent-gateway.controller.js';
import { AgentGatewayService } from './agent-gateway.service.js';
import { AgentStatusRepository } from './agent-status.repository.js';
import { AgentStatusService } from './agent-status.service.js';
import { NodeFencingService } from './node-fencing.service.js';
import { NodeHeartbeatsRepository } from './node-heartbeats.repository.js';

/** The endpoints `gpumarket agent` talks to, over the PostgreSQL agent order queue, and the fencing of silent nodes. */
@Module({
  imports: [DispatchModule, MarketModule],
  controllers: [AgentGatewayController],
  providers: [
    AgentGatewayService,
    AgentStatusRepository,
    AgentStatusService,
    NodeHeartbeatsRepository,
    NodeFencingService,
  ],
  exports: [AgentStatusService, NodeFencingService],
})
export class AgentGatewayModule {}
