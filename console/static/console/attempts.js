/**
 * The attempts behind one call of the client, as they happen.
 *
 * With a retry policy the client sends a request again by itself after a 429, a 503 or a 409
 * `idempotency_in_progress`, waiting the answer's Retry-After, and resolves (or rejects) only
 * with the last answer. A person waiting for it should see why it takes long: the console gives
 * the client `AttemptWatch.fetch`, which hands each refused attempt of a watched request, as an
 * ApiError, to whoever watches it. A request is known by its Idempotency-Key, which a POST keeps
 * across its retries; the caller chooses the key (see docs/client.md).
 */

import { ApiError } from "../errors/client.js";

export class AttemptWatch {
  #fetch;
  /** Idempotency-Key -> called with the ApiError of each refused attempt. */
  #watchers = new Map();

  /** `fetchImpl`: what sends the requests, the browser's fetch by default. */
  constructor(fetchImpl = (...args) => globalThis.fetch(...args)) {
    this.#fetch = fetchImpl;
    /** fetch, for ApiClient's `fetch` option. */
    this.fetch = (input, init) => this.#send(input, init);
  }

  /** Call `onRefused(error)` for each refused attempt sent with `key`, until `stop()`. */
  watch(key, onRefused) {
    this.#watchers.set(key, onRefused);
    return { stop: () => this.#watchers.delete(key) };
  }

  async #send(input, init = {}) {
    const response = await this.#fetch(input, init);
    if (response.ok || this.#watchers.size === 0) return response;
    const headers = new Headers(init.headers);
    const watcher = this.#watchers.get(headers.get("Idempotency-Key") ?? "");
    if (watcher) {
      // A copy: the client reads the answer itself.
      const error = await ApiError.from(response.clone(), headers.get("X-Correlation-ID"));
      try {
        watcher(error);
      } catch (cause) {
        window.reportError(cause); // the page's fault, not the request's
      }
    }
    return response;
  }
}
