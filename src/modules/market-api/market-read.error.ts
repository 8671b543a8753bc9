import { AppError, type ErrorCategory } from '../../platform/errors/app-error.js';

export enum MarketReadErrorCode {
  RoundNotFound = 'round_not_found',
  LeaseNotFound = 'lease_not_found',
}

/** What the market's read API refuses; a row the caller may not see is reported as not found. */
export class MarketReadError extends AppError {
  readonly category: ErrorCategory = 'not_found';
  constructor(code: MarketReadErrorCode, message: string) {
    super(code, message);
  }
}
