/**
 * Exit codes of the tenant commands, so that a script can tell what failed without parsing
 * text. Documented in docs/cli.md; keep the two in step.
 */
export const EXIT = {
  ok: 0,
  other: 1,
  usage: 2,
  refused: 3,
  auth: 4,
  notFound: 5,
  unavailable: 6,
} as const;

/** A bad flag, a missing one or a bad configuration: nothing was sent. */
export class UsageError extends Error {}

/** One failing field of a refused request, as the API's error body names it. */
export interface ApiFieldProblem {
  readonly field: string;
  readonly rule: string;
  readonly message?: string;
}

/** The API answered with a 4xx or 5xx; `body` is its JSON error body when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const record = (body ?? {}) as { error?: unknown; message?: unknown };
    super(typeof record.message === 'string' ? record.message : `HTTP ${status}`);
  }

  get code(): string | null {
    const error = (this.body as { error?: unknown } | null)?.error;
    return typeof error === 'string' ? error : null;
  }

  get details(): ApiFieldProblem[] {
    const details = (this.body as { details?: unknown } | null)?.details;
    return Array.isArray(details) ? (details as ApiFieldProblem[]) : [];
  }

  get requestId(): string | null {
    const id = (this.body as { requestId?: unknown } | null)?.requestId;
    return typeof id === 'string' ? id : null;
  }
}

/** The service could not be reached, or did not answer in time. */
export class NetworkError extends Error {}

/**
 * 400, 409, 413 and 422 are the API refusing what was sent (bad input, a bid already finished, a
 * reused idempotency key); 401/403 the key; 404 an unknown id; 502-504 a service that is not
 * there. A 500 is a fault of the service, not of the caller: "other".
 */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof NetworkError) return EXIT.unavailable;
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return EXIT.auth;
    if (error.status === 404) return EXIT.notFound;
    if ([400, 409, 413, 422].includes(error.status)) return EXIT.refused;
    if ([502, 503, 504].includes(error.status)) return EXIT.unavailable;
  }
  return EXIT.other;
}

/** What a person reads on stderr: the API's message, then each field with the rule it broke. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const lines = [`the API answered ${error.status}${error.code ? ` ${error.code}` : ''}: ${error.message}`];
    for (const problem of error.details) {
      lines.push(`  field ${problem.field}: rule ${problem.rule}${problem.message ? ` (${problem.message})` : ''}`);
    }
    if (error.requestId) lines.push(`  request id ${error.requestId}`);
    return lines.join('\n');
  }
  return error instanceof Error ? error.message : String(error);
}
