import { AppError, type ErrorCategory } from '../../platform/errors/app-error.js';

export enum ApiKeyErrorCode {
  NotFound = 'api_key_not_found',
  Revoked = 'api_key_revoked',
  Expired = 'api_key_expired',
  AlreadyRotated = 'api_key_already_rotated',
  FromConfig = 'api_key_from_config',
  LastAdminKey = 'last_admin_key',
  LimitReached = 'api_key_limit_reached',
}

const CATEGORIES: Record<ApiKeyErrorCode, ErrorCategory> = {
  [ApiKeyErrorCode.NotFound]: 'not_found',
  [ApiKeyErrorCode.Revoked]: 'conflict',
  [ApiKeyErrorCode.Expired]: 'conflict',
  [ApiKeyErrorCode.AlreadyRotated]: 'conflict',
  [ApiKeyErrorCode.FromConfig]: 'conflict',
  [ApiKeyErrorCode.LastAdminKey]: 'conflict',
  [ApiKeyErrorCode.LimitReached]: 'conflict',
};

/** What the key API refuses; another tenant's or provider's key is reported as not found. */
export class ApiKeyError extends AppError {
  readonly category: ErrorCategory;
  constructor(code: ApiKeyErrorCode, message: string) {
    super(code, message);
    this.category = CATEGORIES[code];
  }
}
