import { AppError, type ErrorCategory } from '../../platform/errors/app-error.js';

export enum BidErrorCode {
  NotFound = 'bid_not_found',
  AlreadyFinished = 'bid_already_finished',
  IdempotencyKeyReused = 'idempotency_key_reused',
}

export class BidError extends AppError {
  readonly category: ErrorCategory;
  constructor(code: BidErrorCode, message: string) {
    super(code, message);
    this.category = code === BidErrorCode.NotFound ? ('not_found' as const) : ('conflict' as const);
  }
}
