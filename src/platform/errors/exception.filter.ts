import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppError, type ErrorCategory, RequestError, RequestErrorCode, ValidationFailedError } from './app-error.js';
import { requestIdOf } from '../http/request-id.middleware.js';
import { redactParameters } from '../database/query-logger.js';

const STATUS: Record<ErrorCategory, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unavailable: 503,
};

/**
 * Maps every error to one JSON shape `{error, message, details?, requestId}`. Domain errors map
 * by category; what Nest and Express raise themselves (malformed JSON, oversized bodies, unknown
 * routes) is translated to the same shape; anything else is a logged 500 that reveals nothing.
 */
@Catch()
export class AppExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    respondWithError(exception, http.getRequest<Request>(), http.getResponse<Response>());
  }
}

const logger = new Logger('Errors');

/** Also used as the Express error handler for what fails before Nest routes a request (body parsing). */
export function respondWithError(exception: unknown, request: Request, response: Response): void {
  const error = toAppError(exception);
  const requestId = requestIdOf(request);
  if (!error) {
    logger.error(`request ${requestId} ${request.method} ${request.originalUrl} failed`, describeUnexpected(exception));
    response.status(500).json({ error: 'internal_error', message: 'internal error', requestId });
    return;
  }
  const body: Record<string, unknown> = { error: error.code, message: error.message };
  if (error instanceof ValidationFailedError) body.details = error.details;
  body.requestId = requestId;
  response.status(STATUS[error.category]).json(body);
}

/**
 * The stack, with any value a failed query's parameters held redacted from its message (a
 * QueryFailedError carries them; PostgreSQL quotes some input in its messages).
 */
function describeUnexpected(exception: unknown): string {
  if (!(exception instanceof Error)) return String(exception);
  return redactParameters(exception.stack ?? exception.message, (exception as { parameters?: unknown }).parameters);
}

function toAppError(exception: unknown): AppError | null {
  if (exception instanceof AppError) return exception;
  // Errors raised by body-parser carry a `type` and a status.
  const parserType = (exception as { type?: unknown } | null)?.type;
  if (parserType === 'entity.parse.failed')
    return new RequestError(RequestErrorCode.MalformedJson, 'request body is not valid JSON');
  if (parserType === 'entity.too.large')
    return new RequestError(RequestErrorCode.BodyTooLarge, 'request body is too large');
  if ((typeof parserType === 'string' && parserType.startsWith('encoding.')) || parserType === 'charset.unsupported') {
    return new RequestError(RequestErrorCode.UnsupportedMediaType, 'unsupported request body encoding');
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404) return new RequestError(RequestErrorCode.RouteNotFound, 'no such route');
    if (status === 413) return new RequestError(RequestErrorCode.BodyTooLarge, 'request body is too large');
    if (status === 415) return new RequestError(RequestErrorCode.UnsupportedMediaType, 'unsupported media type');
    if (status >= 400 && status < 500) return new RequestError(RequestErrorCode.MalformedJson, exception.message);
  }
  return null;
}
