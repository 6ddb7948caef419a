/**
 * The event stream of the `eventstream` app over EventSource, for pages that use the `errors`
 * app's client (client.js, whose ApiClient fetches the tickets and whose ApiError carries the
 * failures).
 *
 * `EventStream` fetches a single-use ticket before each connection (EventSource cannot send an
 * Authorization header) and, after any break, reconnects with a fresh ticket and `last_event_id`,
 * so no event is missed. A plain ES module like client.js; types are in stream.d.ts.
 */

import { ApiError } from "../errors/client.js";

/**
 * @typedef {"connecting" | "open" | "closed"} StreamState
 */

/**
 * The service's event stream over EventSource, with tickets, typed handlers and resume.
 *
 * Before each connection a single-use ticket is fetched through the client (so a 401 reaches its
 * onAuthError). On any EventSource error the stream closes that EventSource itself, since its
 * ticket is spent, waits (growing, with jitter) and connects again with a fresh ticket and the
 * last event id it saw, from which the service replays what was missed.
 */
export class EventStream {
  #client;
  #options;
  #source = null;
  /** @type {StreamState} */
  #state = "closed";
  #lastEventId = null;
  #failures = 0;
  #timer = null;
  #generation = 0;
  #handlers = new Map();
  #stateHandlers = new Set();
  #errorHandlers = new Set();
  #lostHandlers = new Set();

  /**
   * @param {ApiClient} client
   * @param {object} [options]
   * @param {string} [options.streamPath] "/api/events/" by default
   * @param {string} [options.ticketPath] "/api/events/tickets/" by default
   * @param {boolean} [options.useTicket] true by default; false relies on the session cookie
   * @param {number} [options.reconnectDelayMs] the first wait before reconnecting, 3000 by default
   * @param {number} [options.maxReconnectDelayMs] the longest wait, 30000 by default
   * @param {typeof EventSource} [options.EventSource] globalThis.EventSource by default
   */
  constructor(client, options = {}) {
    this.#client = client;
    this.#options = {
      streamPath: "/api/events/",
      ticketPath: "/api/events/tickets/",
      useTicket: true,
      reconnectDelayMs: 3000,
      maxReconnectDelayMs: 30000,
      EventSource: globalThis.EventSource,
      ...options,
    };
  }

  /** @returns {StreamState} */
  get state() {
    return this.#state;
  }

  /** The id of the last event received: where a reconnection resumes. */
  get lastEventId() {
    return this.#lastEventId;
  }

  /** Connect, unless already connecting or open. */
  open() {
    if (this.#state === "closed") this.#connect(this.#generation);
    return this;
  }

  /** Disconnect for good: no reconnection follows. */
  close() {
    this.#generation += 1;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#source?.close();
    this.#source = null;
    this.#failures = 0;
    this.#setState("closed");
  }

  /**
   * Call `handler` with each event of `type` (e.g. "workspace.created"), its data JSON-parsed.
   *
   * @param {string} type
   * @param {(data: any, event: MessageEvent) => void} handler
   * @returns {() => void} unsubscribes
   */
  on(type, handler) {
    let handlers = this.#handlers.get(type);
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(type, handlers);
      this.#listen(this.#source, type);
    }
    handlers.add(handler);
    return () => handlers.delete(handler);
  }

  /** @param {(state: StreamState) => void} handler @returns {() => void} */
  onState(handler) {
    return subscribe(this.#stateHandlers, handler);
  }

  /**
   * The service's `error` events (their envelope as an ApiError, status 0: they have no HTTP
   * status of their own) and failures to get a ticket.
   *
   * @param {(error: ApiError) => void} handler
   * @returns {() => void}
   */
  onError(handler) {
    return subscribe(this.#errorHandlers, handler);
  }

  /**
   * The service's `events_lost` events: events were missed and cannot be replayed, so what
   * the page shows may be stale (reload it).
   *
   * @param {(info: {lastEventId: string | null, message: string}) => void} handler
   * @returns {() => void}
   */
  onEventsLost(handler) {
    return subscribe(this.#lostHandlers, handler);
  }

  async #connect(generation) {
    this.#setState("connecting");
    const query = { last_event_id: this.#lastEventId };
    if (this.#options.useTicket) {
      try {
        query.ticket = await this.#ticket();
      } catch (error) {
        if (generation !== this.#generation) return;
        if (!(error instanceof ApiError)) {
          this.close(); // a bug, not a failure of the service: retrying would not help
          throw error;
        }
        emit(this.#errorHandlers, error);
        // Without valid credentials no ticket will come: stop (the client's onAuthError was told).
        if (error.status === 401) this.close();
        else this.#reconnectLater(error.retryAfter);
        return;
      }
      if (generation !== this.#generation) return;
    }
    const EventSourceClass = this.#options.EventSource;
    const url = withQuery(this.#client.baseUrl + this.#options.streamPath, query);
    const source = new EventSourceClass(url, {
      withCredentials: this.#client.credentials === "include",
    });
    this.#source = source;
    source.addEventListener("open", () => {
      this.#failures = 0;
      this.#setState("open");
    });
    source.addEventListener("error", (event) => {
      if (isMessage(event)) {
        emit(this.#errorHandlers, streamError(event.data));
        return;
      }
      // The connection failed or ended; EventSource would retry with the spent ticket.
      source.close();
      if (this.#source === source) {
        this.#source = null;
        this.#reconnectLater(null);
      }
    });
    source.addEventListener("events_lost", (event) => {
      this.#track(event);
      const data = parseData(event.data);
      emit(this.#lostHandlers, {
        lastEventId: textOr(data?.last_event_id, null),
        message: textOr(data?.message, "Some events were lost"),
      });
    });
    for (const type of this.#handlers.keys()) this.#listen(source, type);
  }

  async #ticket() {
    const body = await this.#client.post(this.#options.ticketPath);
    if (!isObject(body) || typeof body.ticket !== "string") {
      throw new ApiError({
        code: "http_error",
        message: "The ticket response holds no ticket",
        status: 200,
      });
    }
    return body.ticket;
  }

  #listen(source, type) {
    if (!source) return;
    source.addEventListener(type, (event) => {
      if (!isMessage(event)) return;
      this.#track(event);
      const data = parseData(event.data);
      for (const handler of [...(this.#handlers.get(type) ?? [])]) handler(data, event);
    });
  }

  #track(event) {
    if (event.lastEventId) this.#lastEventId = event.lastEventId;
  }

  #reconnectLater(retryAfterSeconds) {
    this.#setState("connecting");
    const { reconnectDelayMs, maxReconnectDelayMs } = this.#options;
    const backoff = Math.min(maxReconnectDelayMs, reconnectDelayMs * 2 ** this.#failures);
    // Half the wait at random, so that clients cut off together do not all return together.
    let delay = backoff / 2 + (Math.random() * backoff) / 2;
    if (retryAfterSeconds) delay = Math.max(delay, retryAfterSeconds * 1000);
    this.#failures += 1;
    const generation = this.#generation;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (generation === this.#generation) this.#connect(generation);
    }, delay);
  }

  #setState(state) {
    if (state === this.#state) return;
    this.#state = state;
    emit(this.#stateHandlers, state);
  }
}

// --- helpers --------------------------------------------------------------------------------

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function textOr(value, fallback) {
  return typeof value === "string" && value !== "" ? value : fallback;
}

/** `url` with the query's values that are not null or undefined. */
function withQuery(url, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined) params.append(name, String(value));
  }
  const search = params.toString();
  return search ? `${url}${url.includes("?") ? "&" : "?"}${search}` : url;
}

function subscribe(handlers, handler) {
  handlers.add(handler);
  return () => handlers.delete(handler);
}

function emit(handlers, value) {
  for (const handler of [...handlers]) handler(value);
}

/** A server-sent event, as opposed to EventSource's own `error` Event (which has no data). */
function isMessage(event) {
  return typeof event.data === "string";
}

function parseData(data) {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/** An `event: error` of the stream: its data is the error envelope. */
function streamError(data) {
  const body = parseData(data);
  const error = isObject(body) && isObject(body.error) ? body.error : {};
  return new ApiError({
    code: textOr(error.code, "stream_error"),
    message: textOr(error.message, "The event stream failed"),
    correlationId: textOr(error.correlation_id, null),
    details: isObject(error.details) ? error.details : {},
  });
}
