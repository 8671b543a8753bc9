/**
 * The one base of every domain error. Each feature declares its own subclass with a code enum;
 * the category is what the exception filter turns into an HTTP status, so business logic never
 * knows about HTTP.
 */
export type ErrorCategory =
  'invalid' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'too_large' | 'unavailable';

export abstract class AppError extends Error {
  abstract readonly category: ErrorCategory;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface FieldProblem {
  /** Path into the request body, e.g. `offers[0].maxPrice`. */
  readonly field: string;
  /** Machine-readable rule name, e.g. `max_decimals`, `unknown_field`, `unknown_gpu_model`. */
  readonly rule: string;
  readonly message: string;
}

/** Bad input: every failing field with the rule it broke. */
export class ValidationFailedError extends AppError {
  readonly category = 'invalid';
  constructor(readonly details: readonly FieldProblem[]) {
    super('validation_failed', `${details.length} field(s) failed validation`);
  }
}

export enum AuthErrorCode {
  MissingKey = 'api_key_missing',
  InvalidKey = 'api_key_invalid',
  WrongRole = 'role_not_allowed',
}

export class AuthError extends AppError {
  readonly category: ErrorCategory;
  constructor(code: AuthErrorCode, message: string) {
    super(code, message);
    this.category = code === AuthErrorCode.WrongRole ? 'forbidden' : 'unauthenticated';
  }
}

export enum RequestErrorCode {
  MalformedJson = 'malformed_json',
  BodyTooLarge = 'body_too_large',
  RouteNotFound = 'route_not_found',
  UnsupportedMediaType = 'unsupported_media_type',
}

/** Problems with the HTTP request itself, before any feature sees it. */
export class RequestError extends AppError {
  readonly category: ErrorCategory;
  constructor(code: RequestErrorCode, message: string) {
    super(code, message);
    this.category =
      code === RequestErrorCode.BodyTooLarge
        ? 'too_large'
        : code === RequestErrorCode.RouteNotFound
          ? 'not_found'
          : 'invalid';
  }
}
