/**
 * A client for APIs served with the `errors` app: every failure is one `ApiError`.
 *
 * The service answers every error with the JSON envelope
 * `{"error": {"code", "message", "correlation_id", "details"?}}`, or with RFC 9457 problem details
 * when the request's Accept lists `application/problem+json`. This module decodes both into the
 * same `ApiError`, and makes one of anything else too: a proxy's HTML 502 becomes `http_error`,
 * a request that got no response at all `network_error` (status 0), so callers branch on
 * `error.code` and never meet a JSON parse error or a bare TypeError from fetch.
 *
 * Each request carries an `X-Correlation-ID` of its own, so an error can be quoted to support
 * even when no response came back: the service adopts the id and logs under it.
 *
 * Safe retries and conflict detection: with a retry policy every POST carries an
 * `Idempotency-Key` (one per call, kept across its retries), so it is retried like the idempotent
 * methods; and the client remembers each resource's last `ETag`, sent back as `If-Match` on PUT,
 * PATCH and DELETE, so that a change made meanwhile by someone else is refused (412) rather than
 * overwritten.
 *
 * The `eventstream` app's `EventStream` (eventstream/stream.js) builds on this client for
 * Server-Sent Events.
 *
 * A plain ES module without dependencies: it runs in browsers and in Node 20+ (global fetch), with
 * no build step. Types are in client.d.ts.
 */

const CORRELATION_HEADER = "X-Correlation-ID";
// Methods that may be sent twice without doing twice what they do (RFC 9110, 9.2.2).
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
// Statuses that say "the same request may succeed later".
const RETRY_STATUSES = new Set([429, 503]);
// A POST whose Idempotency-Key is still being answered: the same request may succeed later too.
const IN_PROGRESS = "idempotency_in_progress";
// Methods that send the remembered ETag as If-Match.
const CONDITIONAL_METHODS = new Set(["PUT", "PATCH", "DELETE"]);
// Methods whose success gives the resource's ETag now (or says nothing of it: forgotten).
const ETAG_METHODS = new Set(["GET", "HEAD", "PUT", "PATCH"]);
// The most resources whose ETag a client remembers; the longest unchanged is dropped first.
const ETAG_LIMIT = 500;
// Members RFC 9457 defines, and those the service adds that have a place on ApiError already.
const PROBLEM_MEMBERS = new Set([
  "type",
  "title",
  "status",
  "detail",
  "instance",
  "code",
  "correlation_id",
  "errors",
  "details",
  "debug_info",
]);

/**
 * An error answered by the service, or the lack of an answer.
 *
 * `code` is the catalog's machine code (branch on it), `message` is safe to show, and
 * `correlationId` is what support needs to find the request in the service's logs.
 */
export class ApiError extends Error {
  /**
   * @param {object} init
   * @param {string} init.code
   * @param {string} init.message
   * @param {number} [init.status] HTTP status; 0 when no response came back
   * @param {string | null} [init.correlationId]
   * @param {Record<string, unknown> | null} [init.details]
   * @param {number | null} [init.retryAfter] seconds
   * @param {string | null} [init.currentEtag] on a 412, the resource's ETag now
   * @param {Response | null} [init.response]
   * @param {unknown} [init.cause]
   */
  constructor({
    code,
    message,
    status = 0,
    correlationId = null,
    details = null,
    retryAfter = null,
    currentEtag = null,
    response = null,
    cause,
  }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.correlationId = correlationId;
    this.details = isObject(details) ? details : {};
    this.fieldErrors = fieldErrorsOf(this.details);
    this.retryAfter = retryAfter ?? secondsOrNull(this.details.retry_after);
    /**
     * On a 412 (precondition_failed), the resource's ETag now: the ETag header, else
     * details.current_etag; null otherwise. Send it as `ifMatch` to overwrite the change.
     */
    this.currentEtag =
      currentEtag ?? (status === 412 ? textOr(this.details.current_etag, null) : null);
    this.response = response;
  }

  /** True when no response came back (the server was unreachable or the connection broke). */
  get isNetworkError() {
    return this.code === "network_error";
  }

  /**
   * The ApiError a failed response stands for. Never rejects, whatever the body holds.
   *
   * @param {Response} response
   * @param {string | null} [sentCorrelationId] the id the request was sent with
   * @returns {Promise<ApiError>}
   */
  static async from(response, sentCorrelationId = null) {
    const body = await readJson(response);
    const headerId = response.headers.get(CORRELATION_HEADER);
    const fallbackId = headerId || sentCorrelationId || null;
    const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
    const currentEtag = response.status === 412 ? response.headers.get("ETag") || null : null;
    const common = { status: response.status, retryAfter, currentEtag, response };
    if (isObject(body) && isObject(body.error) && typeof body.error.code === "string") {
      const error = body.error;
      return new ApiError({
        ...common,
        code: error.code,
        message: textOr(error.message, statusText(response)),
        correlationId: textOr(error.correlation_id, fallbackId),
        details: isObject(error.details) ? error.details : {},
      });
    }
    if (isObject(body) && isProblem(response, body)) {
      return new ApiError({
        ...common,
        code: textOr(body.code, codeFromType(body.type)) || "http_error",
        message: textOr(body.detail, textOr(body.title, statusText(response))),
        correlationId: textOr(body.correlation_id, fallbackId),
        details: problemDetails(body),
      });
    }
    // Not an error of the service: a proxy's page, a gateway timeout, an empty body.
    return new ApiError({
      ...common,
      code: "http_error",
      message: statusText(response),
      correlationId: fallbackId,
    });
  }
}

/**
 * @typedef {object} RetryPolicy
 * @property {number} attempts the most times one call sends its request, the first included
 * @property {number} maxWaitSeconds the most time one call spends waiting between attempts
 * @property {(error: ApiError, waitSeconds: number) => void} [onRetry] called before each retry
 *   with the refused attempt's error and the seconds until the next attempt (to show a countdown)
 */

/** The same resource, whatever its query: an absolute URL when it can be made, else as given. */
function resourceUrl(url, base) {
  try {
    const resolved = new URL(url, base);
    resolved.search = "";
    resolved.hash = "";
    return resolved.href;
  } catch {
    return url.replace(/[?#].*$/, "");
  }
}

/** The page's address (a browser's or worker's); undefined in Node. */
function pageUrl() {
  return globalThis.location?.href;
}

/** A strong ETag as is; null for none or a weak one (W/"…"), which If-Match never matches. */
function strongEtag(value) {
  return value && !value.startsWith("W/") ? value : null;
}

/**
 * JSON over fetch, with the service's error contract.
 *
 * Requests resolve to the parsed JSON body (null for 204 or an empty body; the text for a body
 * that is not JSON) and reject with an ApiError, except when the caller's AbortSignal aborts
 * them, which rejects with the signal's reason as fetch does.
 */
export class ApiClient {
  #retry;
  #headers;
  #fetch;
  #newCorrelationId;
  #onAuthError;
  #languages;
  /** Resource URL -> its last strong ETag, oldest write first. */
  #etags = new Map();

  /**
   * @param {string} [baseUrl] "" (the default) for the page's own origin
   * @param {object} [options]
   * @param {string | null} [options.token] sent as `Authorization: Token <token>`
   * @param {(error: ApiError) => void} [options.onAuthError] called on every 401, before the
   *   ApiError is thrown (the client never redirects)
   * @param {RetryPolicy | null} [options.retry] retries on 429 and 503 of idempotent requests
   *   and of POSTs (each then sent with an Idempotency-Key); none by default
   * @param {Record<string, string>} [options.headers] sent with every request
   * @param {RequestCredentials} [options.credentials] fetch's, "same-origin" by default
   * @param {typeof fetch} [options.fetch]
   * @param {() => string} [options.correlationId] makes the id each request is sent with
   * @param {readonly string[] | false} [options.languages] sent as Accept-Language, most wanted
   *   first; by default the browser's `navigator.languages` (none outside a browser); false: none
   */
  constructor(baseUrl = "", options = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = options.token ?? null;
    this.#retry = options.retry ?? null;
    this.#headers = { ...options.headers };
    /** fetch's credentials mode; an EventSource opened for this client follows it. */
    this.credentials = options.credentials ?? "same-origin";
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#newCorrelationId = options.correlationId ?? (() => crypto.randomUUID());
    this.#onAuthError = options.onAuthError ?? null;
    this.#languages = options.languages;
  }

  /**
   * Send one request; retried on 429/503 only when a retry policy says so, and only for
   * idempotent methods and POST, after Retry-After (1 s without one). With a policy a POST carries
   * an Idempotency-Key (the caller's, else a fresh UUID), the same on each of its attempts, and is
   * retried on 409 idempotency_in_progress too. Each attempt is a request of its own, with a
   * correlation id of its own.
   *
   * PUT, PATCH and DELETE send If-Match with the ETag last seen for the resource (the URL without
   * its query), unless `ifMatch` or an If-Match header says otherwise.
   *
   * @template [T=unknown]
   * @param {string} method
   * @param {string} path appended to baseUrl
   * @param {object} [options]
   * @param {unknown} [options.body] JSON-encoded unless FormData, URLSearchParams, Blob,
   *   an ArrayBuffer (or a view of one) or a string
   * @param {Record<string, string | number | boolean | null | undefined>} [options.query]
   *   added to the URL; null and undefined values are left out
   * @param {Record<string, string>} [options.headers] over the client's, whatever their case
   * @param {AbortSignal} [options.signal]
   * @param {RetryPolicy | null} [options.retry] this request's policy instead of the client's
   * @param {string | false} [options.ifMatch] sent as If-Match instead of the remembered ETag;
   *   false: none. An If-Match among the headers wins.
   * @returns {Promise<T>}
   */
  async request(method, path, options = {}) {
    method = method.toUpperCase();
    const policy = options.retry !== undefined ? options.retry : this.#retry;
    const given = new Set(
      Object.keys({ ...this.#headers, ...options.headers }).map((name) => name.toLowerCase()),
    );
    // Decided once per call, so that every attempt sends the same.
    const added = {};
    if (policy != null && method === "POST" && !given.has("idempotency-key")) {
      added["Idempotency-Key"] = crypto.randomUUID();
    }
    if (!given.has("if-match")) {
      const ifMatch =
        options.ifMatch !== undefined
          ? options.ifMatch
          : CONDITIONAL_METHODS.has(method) && this.etagFor(path);
      if (ifMatch) added["If-Match"] = ifMatch;
    }
    const mayRetry = policy != null && (IDEMPOTENT_METHODS.has(method) || method === "POST");
    let waited = 0;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#send(method, path, options, added);
      } catch (error) {
        const retryable =
          error instanceof ApiError &&
          (RETRY_STATUSES.has(error.status) ||
            (method === "POST" && error.status === 409 && error.code === IN_PROGRESS));
        if (!mayRetry || !retryable) throw error;
        const wait = error.retryAfter ?? 1;
        if (attempt >= policy.attempts || waited + wait > policy.maxWaitSeconds) throw error;
        policy.onRetry?.(error, wait);
        await sleep(wait * 1000, options.signal);
        waited += wait;
      }
    }
  }

  /**
   * @template [T=unknown]
   * @param {string} path
   * @param {object} [options] as for request()
   * @returns {Promise<T>}
   */
  get(path, options) {
    return this.request("GET", path, options);
  }

  /**
   * @template [T=unknown]
   * @param {string} path
   * @param {unknown} [body]
   * @param {object} [options] as for request()
   * @returns {Promise<T>}
   */
  post(path, body, options) {
    return this.request("POST", path, { ...options, body });
  }

  /**
   * @template [T=unknown]
   * @param {string} path
   * @param {unknown} [body]
   * @param {object} [options] as for request()
   * @returns {Promise<T>}
   */
  put(path, body, options) {
    return this.request("PUT", path, { ...options, body });
  }

  /**
   * @template [T=unknown]
   * @param {string} path
   * @param {unknown} [body]
   * @param {object} [options] as for request()
   * @returns {Promise<T>}
   */
  patch(path, body, options) {
    return this.request("PATCH", path, { ...options, body });
  }

  /**
   * @template [T=unknown]
   * @param {string} path
   * @param {object} [options] as for request()
   * @returns {Promise<T>}
   */
  delete(path, options) {
    return this.request("DELETE", path, options);
  }

  /**
   * The ETag last seen for `path` (as for request(), its query ignored): from a GET, PUT or PATCH
   * answered 2xx, or a 201's Location; null when there is none, or after a DELETE succeeded.
   *
   * @param {string} path appended to baseUrl
   * @returns {string | null}
   */
  etagFor(path) {
    return this.#etags.get(resourceUrl(this.baseUrl + path, pageUrl())) ?? null;
  }

  #remember(resource, etag) {
    this.#etags.delete(resource);
    if (etag === null) return;
    this.#etags.set(resource, etag);
    if (this.#etags.size > ETAG_LIMIT) this.#etags.delete(this.#etags.keys().next().value);
  }

  /** What a success says of the resources' ETags. */
  #noteEtags(method, path, response) {
    const resource = resourceUrl(this.baseUrl + path, pageUrl());
    const etag = strongEtag(response.headers.get("ETag"));
    if (method === "DELETE") {
      this.#remember(resource, null);
    } else if (method === "POST") {
      // A 201's ETag is the created resource's, the one its Location names.
      const location = response.headers.get("Location");
      if (response.status === 201 && location) {
        this.#remember(resourceUrl(location, resource), etag);
      }
    } else if (ETAG_METHODS.has(method)) {
      // Without a (strong) ETag the one remembered may be out of date: forgotten.
      this.#remember(resource, etag);
    }
  }

  async #send(method, path, { body, query, headers, signal } = {}, added = {}) {
    const sent = new Headers({ Accept: "application/json" });
    for (const [name, value] of Object.entries({ ...this.#headers, ...headers })) {
      sent.set(name, value);
    }
    for (const [name, value] of Object.entries(added)) sent.set(name, value);
    if (!sent.has(CORRELATION_HEADER)) sent.set(CORRELATION_HEADER, this.#newCorrelationId());
    if (!sent.has("Accept-Language")) {
      const wanted = this.#languages === undefined ? browserLanguages() : this.#languages;
      const languages = acceptLanguage(wanted);
      if (languages) sent.set("Accept-Language", languages);
    }
    if (this.token && !sent.has("Authorization")) sent.set("Authorization", `Token ${this.token}`);
    const correlationId = sent.get(CORRELATION_HEADER);
    let payload = body;
    if (body !== undefined && !isRawBody(body)) {
      payload = JSON.stringify(body);
      if (!sent.has("Content-Type")) sent.set("Content-Type", "application/json");
    }
    let response;
    try {
      response = await this.#fetch(buildUrl(this.baseUrl + path, query), {
        method,
        headers: sent,
        body: payload,
        signal,
        credentials: this.credentials,
      });
    } catch (cause) {
      if (signal?.aborted) throw signal.reason;
      throw new ApiError({
        code: "network_error",
        message: "Server unreachable",
        correlationId,
        cause,
      });
    }
    if (!response.ok) {
      const error = await ApiError.from(response, correlationId);
      if (error.status === 401 && this.#onAuthError) this.#onAuthError(error);
      throw error;
    }
    this.#noteEtags(method, path, response);
    return readBody(response, correlationId);
  }
}

// --- helpers --------------------------------------------------------------------------------

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function textOr(value, fallback) {
  return typeof value === "string" && value !== "" ? value : fallback;
}

function secondsOrNull(value) {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
}

function statusText(response) {
  return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
}

/** `details.field_errors` as dotted path -> messages; anything malformed is left out. */
function fieldErrorsOf(details) {
  const result = {};
  if (!isObject(details.field_errors)) return result;
  for (const [path, messages] of Object.entries(details.field_errors)) {
    if (Array.isArray(messages)) result[path] = messages.map(String);
    else if (typeof messages === "string") result[path] = [messages];
  }
  return result;
}

/** Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110, 10.2.3). */
function parseRetryAfter(value) {
  if (value == null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function isJsonType(contentType) {
  return /^application\/([\w.-]+\+)?json\s*(;|$)/i.test(contentType ?? "");
}

function isProblem(response, body) {
  return (
    /^application\/problem\+json/i.test(response.headers.get("Content-Type") ?? "") ||
    (typeof body.type === "string" && typeof body.title === "string")
  );
}

/** The last path segment of a problem `type` URI, which the service makes the code. */
function codeFromType(type) {
  if (typeof type !== "string" || type === "about:blank") return null;
  const segment = type
    .replace(/[?#].*$/, "")
    .replace(/\/+$/, "")
    .split("/")
    .pop();
  return segment || null;
}

/** A problem's details as the envelope has them: `details`, extension members, field errors. */
function problemDetails(body) {
  const details = {};
  for (const [name, value] of Object.entries(body)) {
    if (!PROBLEM_MEMBERS.has(name)) details[name] = value;
  }
  Object.assign(details, isObject(body.details) ? body.details : {});
  if (isObject(body.errors)) details.field_errors = body.errors;
  return details;
}

/** The body parsed as JSON, or undefined when it is not JSON (or cannot be read). */
async function readJson(response) {
  if (!isJsonType(response.headers.get("Content-Type"))) {
    await response.body?.cancel().catch(() => {});
    return undefined;
  }
  try {
    return JSON.parse(await response.text());
  } catch {
    return undefined;
  }
}

/** A success's body: JSON parsed, text as text, nothing as null. */
async function readBody(response, correlationId) {
  let text;
  try {
    text = await response.text();
  } catch (cause) {
    throw new ApiError({
      code: "network_error",
      message: "Server unreachable",
      correlationId,
      cause,
      response,
    });
  }
  if (text === "") return null;
  if (!isJsonType(response.headers.get("Content-Type"))) return text;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ApiError({
      code: "http_error",
      message: "The response is not valid JSON",
      status: response.status,
      correlationId: response.headers.get(CORRELATION_HEADER) || correlationId,
      cause,
      response,
    });
  }
}

function isRawBody(body) {
  return (
    typeof body === "string" ||
    (typeof FormData !== "undefined" && body instanceof FormData) ||
    body instanceof URLSearchParams ||
    (typeof Blob !== "undefined" && body instanceof Blob) ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}

function buildUrl(url, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined) params.append(name, String(value));
  }
  const search = params.toString();
  return search ? `${url}${url.includes("?") ? "&" : "?"}${search}` : url;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The browser's languages, most wanted first (read at each request: the user may change them);
 * null outside a browser or worker (Node has no `self`; from 21 on it has a `navigator` whose
 * languages are the process's locale, not a person's choice).
 */
function browserLanguages() {
  const scope = typeof self === "undefined" ? null : self;
  const languages = scope?.navigator?.languages;
  return Array.isArray(languages) ? languages : null;
}

/** An Accept-Language value: "de-DE, de;q=0.9, en;q=0.8" (q never below 0.1); "" for none. */
function acceptLanguage(languages) {
  if (!languages) return "";
  const tags = [...new Set(languages.map((tag) => String(tag).trim()).filter(Boolean))];
  return tags
    .map((tag, i) => (i === 0 ? tag : `${tag};q=${Math.max(1, 10 - i) / 10}`))
    .join(", ");
}
