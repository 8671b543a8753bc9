import { Body, Controller, Get, HttpCode, Param, Patch, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators.js';
import type { Principal } from '../auth/principal.js';
import { NodeDto, NodeListDto, PatchNodeDto, PutNodesDto } from './inventory.dto.js';
import { NodesService } from './nodes.service.js';

@ApiTags('inventory')
@ApiBearerAuth()
@Controller('v1/nodes')
export class NodesController {
  constructor(private readonly nodes: NodesService) {}

  /** Bulk upsert by externalId; answers with the upserted nodes in the order sent. */
  @Put()
  @HttpCode(200)
  @ApiOkResponse({ type: NodeListDto })
  @Roles('provider')
  async put(@CurrentPrincipal() principal: Principal, @Body() body: PutNodesDto): Promise<NodeListDto> {
    return { nodes: await this.nodes.upsert(principal.providerId!, body.nodes) };
  }

  @Get()
  @ApiOkResponse({ type: NodeListDto })
  @Roles('provider', 'admin', 'finance')
  async list(@CurrentPrincipal() principal: Principal): Promise<NodeListDto> {
    return { nodes: await this.nodes.list(principal) };
  }

  @Patch(':id')
  @ApiOkResponse({ type: NodeDto })
  @Roles('provider', 'admin')
  patch(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: PatchNodeDto,
  ): Promise<NodeDto> {
    return this.nodes.update(principal, id, body);
  }
}
