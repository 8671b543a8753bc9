import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators.js';
import type { Principal } from '../auth/principal.js';
import {
  CreateWebhookDto,
  ListDeliveriesQueryDto,
  RotateSecretQueryDto,
  UpdateWebhookDto,
  WebhookCreatedDto,
  WebhookDeliveryDetailDto,
  WebhookDeliveryDto,
  WebhookDeliveryPageDto,
  WebhookDto,
  WebhookListDto,
  WebhookSecretDto,
} from './webhook.dto.js';
import { WebhooksService } from './webhooks.service.js';

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
@Roles('tenant')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({
    summary: 'Registers an endpoint for event types; the answer carries its signing secret, shown this once',
  })
  @ApiCreatedResponse({ type: WebhookCreatedDto })
  register(@CurrentPrincipal() principal: Principal, @Body() body: CreateWebhookDto): Promise<WebhookCreatedDto> {
    return this.webhooks.register(principal.tenantId!, body);
  }

  @Get()
  @ApiOperation({ summary: "The tenant's endpoints (never their secrets), with why one is disabled" })
  @ApiOkResponse({ type: WebhookListDto })
  list(@CurrentPrincipal() principal: Principal): Promise<WebhookListDto> {
    return this.webhooks.list(principal.tenantId!);
  }

  @Get('deliveries/:id')
  @ApiOperation({ summary: 'One delivery with every attempt made' })
  @ApiOkResponse({ type: WebhookDeliveryDetailDto })
  delivery(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<WebhookDeliveryDetailDto> {
    return this.webhooks.delivery(principal.tenantId!, id);
  }

  @Post('deliveries/:id/redeliver')
  @HttpCode(202)
  @ApiOperation({ summary: "Sends the delivery's event again, as a new delivery; 409 while its endpoint is disabled" })
  @ApiAcceptedResponse({ type: WebhookDeliveryDto })
  redeliver(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<WebhookDeliveryDto> {
    return this.webhooks.redeliver(principal.tenantId!, id);
  }

  @Get(':id')
  @ApiOkResponse({ type: WebhookDto })
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<WebhookDto> {
    return this.webhooks.get(principal.tenantId!, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Changes the URL or event types; {"enabled": true} re-enables a disabled endpoint' })
  @ApiOkResponse({ type: WebhookDto })
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: UpdateWebhookDto,
  ): Promise<WebhookDto> {
    return this.webhooks.update(principal.tenantId!, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Deletes the endpoint; its pending deliveries are given up' })
  @ApiNoContentResponse()
  remove(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    return this.webhooks.remove(principal.tenantId!, id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({
    summary: 'A new signing secret, shown once; the previous one also signs until the grace period ends',
  })
  @ApiOkResponse({ type: WebhookSecretDto })
  rotateSecret(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() query: RotateSecretQueryDto,
  ): Promise<WebhookSecretDto> {
    return this.webhooks.rotateSecret(principal.tenantId!, id, query);
  }

  @Get(':id/deliveries')
  @ApiOperation({
    summary: "The endpoint's deliveries, newest first: status, attempts, last response code, latency and error",
  })
  @ApiOkResponse({ type: WebhookDeliveryPageDto })
  deliveries(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() query: ListDeliveriesQueryDto,
  ): Promise<WebhookDeliveryPageDto> {
    return this.webhooks.deliveryPage(principal.tenantId!, id, query);
  }
}
