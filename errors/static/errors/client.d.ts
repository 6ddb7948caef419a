// Type declarations of client.js, the `errors` app's API client (an ES module, no dependencies).

export interface ApiErrorInit {
  code: string;
  message: string;
  /** HTTP status; 0 when there is none (no response came back, or a stream's `error` event). */
  status?: number;
  correlationId?: string | null;
  details?: Record<string, unknown> | null;
  /** Seconds; defaults to details.retry_after when that is a number. */
  retryAfter?: number | null;
  /** Defaults, on a 412, to details.current_etag when that is a string. */
  currentEtag?: string | null;
  response?: Response | null;
  cause?: unknown;
}

/** Every failure of a request: an error the service answered, any other error status, or none. */
export class ApiError extends Error {
  constructor(init: ApiErrorInit);
  readonly name: "ApiError";
  /**
   * The envelope's error.code; problem+json's `code` member (else the last path segment of
   * `type`); "network_error" when no response came back; "http_error" for a body that is no
   * error of the service (a proxy's HTML 502, an empty 504).
   */
  readonly code: string;
  /** The envelope's error.message; problem+json's `detail` (else `title`); safe to show. */
  readonly message: string;
  /** The HTTP status; 0 for network_error and for a stream's `error` event. */
  readonly status: number;
  /**
   * error.correlation_id, else problem+json's `correlation_id`, else the X-Correlation-ID
   * response header, else the id the request was sent with: always something to quote.
   */
  readonly correlationId: string | null;
  /** error.details, or problem+json's extension members (`errors` as field_errors); {} if none. */
  readonly details: Record<string, unknown>;
  /** Messages by dotted path (`name`, `metadata.color`, `items.0.name`, `non_field_errors`). */
  readonly fieldErrors: Record<string, string[]>;
  /** Seconds to wait: the Retry-After header (seconds or HTTP date), else details.retry_after. */
  readonly retryAfter: number | null;
  /**
   * On a 412 (precondition_failed: the resource changed since its ETag was read), its ETag now:
   * the ETag response header, else details.current_etag; null on any other error. The client
   * does not remember it: to overwrite the other change, send the request again with
   * `{ifMatch: error.currentEtag}`; to reload instead, GET the resource.
   */
  readonly currentEtag: string | null;
  readonly response: Response | null;
  /** code === "network_error". */
  readonly isNetworkError: boolean;
  /** The ApiError a failed response stands for; never rejects, whatever the body holds. */
  static from(response: Response, sentCorrelationId?: string | null): Promise<ApiError>;
}

/**
 * Retries on 429 and 503 of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) and of POSTs,
 * which then carry an Idempotency-Key; a POST is retried on 409 idempotency_in_progress too.
 */
export interface RetryPolicy {
  /** The most times one call sends its request, the first included (1: no retry). */
  attempts: number;
  /** The most seconds one call waits in all; a retry that would wait longer is not made. */
  maxWaitSeconds: number;
  /** Called before each retry with the refused attempt's error and the seconds until the next. */
  onRetry?: (error: ApiError, waitSeconds: number) => void;
}

export interface ApiClientOptions {
  /** Sent as "Authorization: Token <token>". */
  token?: string | null;
  /** Called on every 401 before the ApiError is thrown; the client never redirects. */
  onAuthError?: (error: ApiError) => void;
  /**
   * Retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) and of POSTs on 429 and 503
   * after Retry-After (1 s when absent), bounded by count and total wait; none by default. With a
   * policy each POST call sends an Idempotency-Key (the one among the headers, else a fresh
   * UUID), the same on all its attempts, so the service does it once and replays its answer;
   * it is also retried on 409 idempotency_in_progress. PATCH is never retried, nor any request
   * on another status (422 idempotency_key_reused, 412, other 409s).
   */
  retry?: RetryPolicy | null;
  /** Sent with every request (a request's own headers win). */
  headers?: Record<string, string>;
  /** fetch's credentials mode, "same-origin" by default (the session cookie of the same origin). */
  credentials?: RequestCredentials;
  /** globalThis.fetch by default. */
  fetch?: typeof fetch;
  /** Makes the X-Correlation-ID each request is sent with; crypto.randomUUID() by default. */
  correlationId?: () => string;
  /**
   * Sent as Accept-Language with descending q-values ("de-DE, de;q=0.9, en;q=0.8"), so that the
   * service answers, errors included, in the user's language. By default the browser's
   * `navigator.languages` (nothing outside a browser); `false` sends none. An Accept-Language
   * among the headers (the client's or a request's) always wins.
   */
  languages?: readonly string[] | false;
}

export interface RequestOptions {
  /** JSON-encoded, unless FormData, URLSearchParams, Blob, an ArrayBuffer (or view) or a string. */
  body?: unknown;
  /** Added to the URL; null and undefined values are left out. */
  query?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string>;
  /** Aborting rejects with the signal's reason (not an ApiError), as fetch does. */
  signal?: AbortSignal;
  /** This request's retry policy instead of the client's; null: no retry, no Idempotency-Key. */
  retry?: RetryPolicy | null;
  /**
   * The If-Match to send. By default PUT, PATCH and DELETE send the ETag the client last saw for
   * the resource (see `etagFor`), other methods none; a string is sent instead (on any method:
   * `error.currentEtag` after a 412 to overwrite, or "*"); false sends none. An If-Match among
   * the headers (the client's or the request's, whatever their case) always wins.
   */
  ifMatch?: string | false;
}

/**
 * JSON over fetch. Each request carries an X-Correlation-ID of its own (a fresh UUID; a retry is
 * a new request with a new id). Requests resolve to the parsed JSON body (null for 204 or an
 * empty body, the text of a body that is not JSON) and reject with an ApiError.
 *
 * The client remembers the strong ETag of each resource (its URL without the query) from the last
 * 2xx answer to a GET, HEAD, PUT or PATCH of it, and from a POST's 201 under its Location; an
 * answer without one (or with a weak one) forgets it, and so does a successful DELETE. At most
 * 500 resources are remembered, the longest unchanged dropped first.
 */
export class ApiClient {
  /** @param baseUrl "" (the default) for the page's own origin. */
  constructor(baseUrl?: string, options?: ApiClientOptions);
  token: string | null;
  readonly baseUrl: string;
  readonly credentials: RequestCredentials;
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T>;
  get<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  post<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  put<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  patch<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  delete<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  /**
   * The ETag the client last saw for `path` (appended to baseUrl as for a request; its query is
   * ignored), which PUT, PATCH and DELETE send as If-Match; null when there is none.
   */
  etagFor(path: string): string | null;
}
