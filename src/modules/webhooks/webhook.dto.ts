import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  registerDecorator,
} from 'class-validator';
import { MAX_WEBHOOK_URL_LENGTH, type UrlProblem, webhookUrlProblem } from '../../core/webhooks/webhook-url.js';
import { IsOmittable } from '../../platform/http/validators.js';
import { MARKET_EVENT_TYPES, type MarketEventType } from '../../core/market/market-events.js';
import { PageQueryDto } from '../../platform/http/page-query.dto.js';
import { DELIVERY_STATUSES, type DeliveryStatus } from './webhook-deliveries.repository.js';

export const MAX_GRACE_SECONDS = 7 * 86_400;

/**
 * One constraint per URL rule, so a bad URL reports exactly the rule it broke (is_url, url_scheme, url_credentials).
 */
function IsWebhookUrl(): PropertyDecorator {
  const rules: Array<[string, UrlProblem['rule']]> = [
    ['isUrl', 'is_url'],
    ['urlScheme', 'url_scheme'],
    ['urlCredentials', 'url_credentials'],
  ];
  return (target, propertyName) => {
    for (const [name, rule] of rules) {
      registerDecorator({
        name,
        target: target.constructor,
        propertyName: propertyName as string,
        validator: {
          validate: (value: unknown) => typeof value !== 'string' || webhookUrlProblem(value)?.rule !== rule,
          defaultMessage: (args) => webhookUrlProblem(String(args?.value))?.message ?? 'url is invalid',
        },
      });
    }
  };
}

const EVENTS_DESCRIPTION = 'event types to receive, 1-8 distinct';

export class CreateWebhookDto {
  @ApiProperty({
    example: 'https://hooks.example.com/gpumarket',
    description: 'http(s) URL on a public address; redirects are not followed',
  })
  @IsString()
  @MaxLength(MAX_WEBHOOK_URL_LENGTH)
  @IsWebhookUrl()
  url: string;

  @ApiProperty({
    enum: MARKET_EVENT_TYPES,
    isArray: true,
    example: ['lease.preemption_notice', 'lease.completed'],
    description: EVENTS_DESCRIPTION,
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MARKET_EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(MARKET_EVENT_TYPES, { each: true })
  events: MarketEventType[];
}

export class UpdateWebhookDto {
  @ApiPropertyOptional({ example: 'https://hooks.example.com/gpumarket' })
  @IsOmittable()
  @IsString()
  @MaxLength(MAX_WEBHOOK_URL_LENGTH)
  @IsWebhookUrl()
  url?: string;

  @ApiPropertyOptional({ enum: MARKET_EVENT_TYPES, isArray: true, description: EVENTS_DESCRIPTION })
  @IsOmittable()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MARKET_EVENT_TYPES.length)
  @ArrayUnique()
  @IsIn(MARKET_EVENT_TYPES, { each: true })
  events?: MarketEventType[];

  @ApiPropertyOptional({
    description: 'true re-enables a disabled endpoint (and clears its failure streak); false disables it',
  })
  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;
}

export class RotateSecretQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    example: 3600,
    description: `how long the previous secret keeps signing, 0-${MAX_GRACE_SECONDS} s (default WEBHOOK_SECRET_GRACE_SECONDS); 0 retires it at once`,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_GRACE_SECONDS)
  graceSeconds?: number;
}

export class ListDeliveriesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;
}

export class WebhookDto {
  @ApiProperty() id: string;
  @ApiProperty() url: string;
  @ApiProperty({ enum: MARKET_EVENT_TYPES, isArray: true }) events: string[];
  @ApiProperty({ description: 'false once disabled (by the tenant, or after failing for a long time)' })
  enabled: boolean;
  @ApiProperty({ nullable: true, type: String }) disabledAt: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '20 failed attempts in a row since 2026-11-20T09:00:00.000Z; the last: HTTP 503',
  })
  disabledReason: string | null;
  @ApiProperty({ nullable: true, type: String }) secretRotatedAt: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'until when the previous secret also signs; null when only the current one does',
  })
  previousSecretExpiresAt: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class WebhookCreatedDto extends WebhookDto {
  @ApiProperty({ example: 'whsec_…', description: 'the signing secret; shown once, stored encrypted' }) secret: string;
}

export class WebhookListDto {
  @ApiProperty({ type: [WebhookDto] }) webhooks: WebhookDto[];
}

export class WebhookSecretDto {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'the new signing secret; shown once' }) secret: string;
  @ApiProperty({ nullable: true, type: String, description: 'until when the previous secret also signs' })
  previousSecretExpiresAt: string | null;
}

export class WebhookDeliveryDto {
  @ApiProperty({ description: 'sent as X-Gpumarket-Delivery; the same in every attempt of this delivery' }) id: string;
  @ApiProperty() webhookId: string;
  @ApiProperty({ description: "the body's id: the same in every delivery and redelivery of the event" })
  eventId: string;
  @ApiProperty({ enum: MARKET_EVENT_TYPES }) eventType: string;
  @ApiProperty({ nullable: true, type: String, description: 'the delivery this one redelivers' }) redeliveryOf:
    string | null;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: string;
  @ApiProperty({ type: 'integer' }) attempts: number;
  @ApiProperty({ nullable: true, type: 'integer' }) lastStatusCode: number | null;
  @ApiProperty({ nullable: true, type: 'integer', description: 'ms from request to answer in the last attempt' })
  lastLatencyMs: number | null;
  @ApiProperty({ nullable: true, type: String }) lastError: string | null;
  @ApiProperty({ nullable: true, type: String }) lastAttemptAt: string | null;
  @ApiProperty({ nullable: true, type: String }) nextAttemptAt: string | null;
  @ApiProperty({ description: 'when the delivery was written, at the commit of its event' }) createdAt: string;
  @ApiProperty({ nullable: true, type: String, description: 'when the receiver answered 2xx' }) deliveredAt:
    string | null;
}

export class WebhookAttemptDto {
  @ApiProperty({ type: 'integer' }) attempt: number;
  @ApiProperty() startedAt: string;
  @ApiProperty({ nullable: true, type: 'integer' }) statusCode: number | null;
  @ApiProperty({ nullable: true, type: 'integer' }) latencyMs: number | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
}

export class WebhookDeliveryDetailDto extends WebhookDeliveryDto {
  @ApiProperty({ type: [WebhookAttemptDto] }) attemptLog: WebhookAttemptDto[];
}

export class WebhookDeliveryPageDto {
  @ApiProperty({ type: [WebhookDeliveryDto] }) deliveries: WebhookDeliveryDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}
