import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module.js';
import { AgentGatewayController } from './agent-gateway.controller.js';
import { AgentGatewayService } from './agent-gateway.service.js';
import { AgentStatusService } from './agent-status.service.js';

/** The endpoints `gpumarket agent` talks to, over the PostgreSQL agent order queue. */
@Module({
  imports: [DispatchModule],
  controllers: [AgentGatewayController],
  providers: [AgentGatewayService, AgentStatusService],
  exports: [AgentStatusService],
})
export class AgentGatewayModule {}
