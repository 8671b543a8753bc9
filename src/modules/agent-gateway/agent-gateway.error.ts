import { AppError, type ErrorCategory } from '../../platform/errors/app-error.js';

export enum AgentGatewayErrorCode {
  NodeNotFound = 'node_not_found',
  OrderNotFound = 'agent_order_not_found',
}

/** What the agent endpoints refuse; another provider's node or order is reported as not found. */
export class AgentGatewayError extends AppError {
  readonly category: ErrorCategory = 'not_found';
  constructor(code: AgentGatewayErrorCode, message: string) {
    super(code, message);
  }
}
