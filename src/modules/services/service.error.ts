import { AppError, type ErrorCategory } from '../../platform/errors/app-error.js';

export enum ServiceErrorCode {
  NotFound = 'service_not_found',
  NameTaken = 'service_name_taken',
  NotActive = 'service_not_active',
}

export class ServiceError extends AppError {
  readonly category: ErrorCategory;
  constructor(code: ServiceErrorCode, message: string) {
    super(code, message);
    this.category = code === ServiceErrorCode.NotFound ? 'not_found' : 'conflict';
  }
}
