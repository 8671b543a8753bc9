import { AppError, type ErrorCategory } from '../../platform/errors/app-error.js';

export enum InventoryErrorCode {
  NodeNotFound = 'node_not_found',
  GpuModelExists = 'gpu_model_exists',
}

export class InventoryError extends AppError {
  readonly category: ErrorCategory;
  constructor(code: InventoryErrorCode, message: string) {
    super(code, message);
    this.category = code === InventoryErrorCode.NodeNotFound ? ('not_found' as const) : ('conflict' as const);
  }
}
