import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AgentLeasesResponse, PullOrdersResponse } from '../dispatch/adapters/nvidia-agent/agent-protocol.js';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators.js';
import type { Principal } from '../auth/principal.js';
import {
  AgentAckDto,
  AgentHeartbeatDto,
  AgentHeartbeatResponseDto,
  AgentNodeQueryDto,
  AgentOrdersQueryDto,
} from './agent-gateway.dto.js';
import { AgentGatewayService } from './agent-gateway.service.js';

@ApiTags('agent')
@ApiBearerAuth()
@Roles('provider')
@Controller('v1/agent')
export class AgentGatewayController {
  constructor(private readonly gateway: AgentGatewayService) {}

  @Get('orders')
  @ApiOperation({
    summary: "Long poll for the node's unacknowledged orders, oldest first; [] when none came within waitSeconds",
  })
  orders(
    @CurrentPrincipal() principal: Principal,
    @Query() query: AgentOrdersQueryDto,
    @Res({ passthrough: true }) response: Response,
  ): Promise<PullOrdersResponse> {
    // An agent that hangs up ends its poll; the order stays queued for its next one.
    const gone = new AbortController();
    response.on('close', () => gone.abort());
    return this.gateway.pull(principal.providerId!, query.node, query.waitSeconds ?? 0, gone.signal);
  }

  @Post('orders/:id/ack')
  @HttpCode(204)
  @ApiOperation({ summary: 'Accept or refuse an order; the first acknowledgement of an order wins' })
  @ApiNoContentResponse()
  acknowledge(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: AgentAckDto,
  ): Promise<void> {
    return this.gateway.acknowledge(principal.providerId!, id, body);
  }

  @Post('heartbeat')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'The node is alive, and which of its GPUs are usable; a node silent for HEARTBEAT_UNREACHABLE_SECONDS is fenced',
  })
  @ApiOkResponse({ type: AgentHeartbeatResponseDto })
  heartbeat(
    @CurrentPrincipal() principal: Principal,
    @Body() body: AgentHeartbeatDto,
  ): Promise<AgentHeartbeatResponseDto> {
    return this.gateway.heartbeat(principal.providerId!, body);
  }

  @Get('leases')
  @ApiOperation({ summary: 'The leases the market believes run on the node (for an agent re-syncing after a restart)' })
  leases(@CurrentPrincipal() principal: Principal, @Query() query: AgentNodeQueryDto): Promise<AgentLeasesResponse> {
    return this.gateway.leases(principal.providerId!, query.node);
  }
}
