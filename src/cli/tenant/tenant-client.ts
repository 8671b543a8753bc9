import { ApiError, NetworkError } from './tenant-errors.js';
import type { TenantConfig } from './tenant-config.js';

/** A 30 s limit per request: a service that does not answer is "unavailable", not a hang. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

type Query = Record<string, string | number | boolean | undefined>;

/**
 * The tenant's side of the REST API over Node's fetch. Bodies go and come back as the API's JSON,
 * untouched, so `--json` can print them as they are.
 */
export class TenantClient {
  constructor(
    private readonly config: TenantConfig,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  get<T>(path: string, query: Query = {}): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, { query });
  }

  post<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, { body, headers });
  }

  delete<T>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('DELETE', path, {});
  }

  async request<T>(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown; headers?: Record<string, string> },
  ): Promise<ApiResponse<T>> {
    const url = new URL(this.config.url + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${this.config.key}`,
      ...options.headers,
    };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new NetworkError(`cannot reach ${this.config.url}: ${reasonOf(error)}`);
    }
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's HTML page): keep the text for the message.
    }
    if (response.status >= 400)
      throw new ApiError(response.status, typeof body === 'object' ? body : { message: String(body).slice(0, 500) });
    return { status: response.status, body: body as T };
  }
}

/** fetch hides the real cause (ECONNREFUSED, ENOTFOUND) one level down. */
function reasonOf(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer in ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  if (cause?.code)
    return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? ` (${cause.message})` : ''}`;
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}
