import { AppError, type ErrorCategory } from '../../platform/errors/app-error.js';

export enum WebhookErrorCode {
  NotFound = 'webhook_not_found',
  DeliveryNotFound = 'webhook_delivery_not_found',
  LimitReached = 'webhook_limit_reached',
  Disabled = 'webhook_disabled',
  NotConfigured = 'webhooks_not_configured',
}

const CATEGORIES: Record<WebhookErrorCode, ErrorCategory> = {
  [WebhookErrorCode.NotFound]: 'not_found',
  [WebhookErrorCode.DeliveryNotFound]: 'not_found',
  [WebhookErrorCode.LimitReached]: 'conflict',
  [WebhookErrorCode.Disabled]: 'conflict',
  [WebhookErrorCode.NotConfigured]: 'unavailable',
};

/** What the webhook API refuses; another tenant's endpoint or delivery is reported as not found. */
export class WebhookError extends AppError {
  readonly category: ErrorCategory;
  constructor(code: WebhookErrorCode, message: string) {
    super(code, message);
    this.category = CATEGORIES[code];
  }
}
