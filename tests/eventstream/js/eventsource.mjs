// A small EventSource for Node, which has none, over fetch's streaming body: what EventStream
// needs of the browser's, as the HTML standard describes it ("Server-sent events"), for tests.
//
// - `new TestEventSource(url)` connects at once (Accept: text/event-stream); a 200 of
//   text/event-stream fires `open`, anything else fails the connection for good (`error`,
//   readyState CLOSED).
// - Events are parsed line by line (`event`, `data`, `id`, `retry`, comments) and dispatched as
//   MessageEvents of their type ("message" when none), carrying the last event id.
// - When the response ends or the connection breaks it fires `error` and, unless closed,
//   reconnects after the server's `retry:` with a Last-Event-ID header, as browsers do.
//
// For the tests, every instance is kept in `TestEventSource.instances` with the number of
// requests it made (`connections`); `pause()` / `resume()` stop and restart reading the body, as a
// client that stops reading would, and `drop()` breaks the connection, as a network would.

export class TestEventSource extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  /** @type {TestEventSource[]} */
  static instances = [];

  onopen = null;
  onmessage = null;
  onerror = null;
  connections = 0;
  #connection = new AbortController();
  #lastEventId = "";
  #retryMs = 3000;
  #timer = null;
  #paused = null;

  constructor(url, init = {}) {
    super();
    this.url = String(url);
    this.withCredentials = Boolean(init.withCredentials);
    this.readyState = TestEventSource.CONNECTING;
    TestEventSource.instances.push(this);
    this.#connect();
  }

  close() {
    this.readyState = TestEventSource.CLOSED;
    clearTimeout(this.#timer);
    this.#connection.abort();
    this.resume();
  }

  /** Break the current connection (the readyState goes CONNECTING, then it reconnects). */
  drop() {
    this.#connection.abort();
  }

  /** Stop reading the response: the server's writes pile up in the sockets, then in its queue. */
  pause() {
    if (!this.#paused) {
      let resume;
      const gate = new Promise((resolve) => (resume = resolve));
      this.#paused = { gate, resume };
    }
  }

  resume() {
    const paused = this.#paused;
    this.#paused = null;
    paused?.resume();
  }

  dispatchEvent(event) {
    const handler = this[`on${event.type}`];
    if (typeof handler === "function") handler.call(this, event);
    return super.dispatchEvent(event);
  }

  async #connect() {
    this.connections += 1;
    const headers = { Accept: "text/event-stream", "Cache-Control": "no-cache" };
    if (this.#lastEventId) headers["Last-Event-ID"] = this.#lastEventId;
    this.#connection = new AbortController();
    let response;
    try {
      response = await fetch(this.url, { headers, signal: this.#connection.signal });
    } catch {
      return this.#reconnect();
    }
    if (this.readyState === TestEventSource.CLOSED) return response.body?.cancel().catch(() => {});
    const type = response.headers.get("Content-Type") ?? "";
    if (response.status !== 200 || !type.startsWith("text/event-stream")) {
      await response.body?.cancel().catch(() => {});
      this.readyState = TestEventSource.CLOSED;
      this.dispatchEvent(new Event("error"));
      return;
    }
    this.readyState = TestEventSource.OPEN;
    this.dispatchEvent(new Event("open"));
    try {
      await this.#read(response.body);
    } catch {
      // A broken connection: reconnect, as for an ended one.
    }
    this.#reconnect();
  }

  #reconnect() {
    if (this.readyState === TestEventSource.CLOSED) return;
    this.readyState = TestEventSource.CONNECTING;
    this.dispatchEvent(new Event("error"));
    if (this.readyState === TestEventSource.CLOSED) return; // closed by an error handler
    this.#timer = setTimeout(() => this.#connect(), this.#retryMs);
  }

  async #read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { type: "", data: [], id: null };
    for (;;) {
      if (this.#paused) await this.#paused.gate;
      const { value, done } = await reader.read();
      if (done || this.readyState === TestEventSource.CLOSED) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          this.#dispatch(event);
          event = { type: "", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.type = text;
        else if (field === "data") event.data.push(text);
        else if (field === "id" && !text.includes("\0")) this.#lastEventId = text;
        else if (field === "retry" && /^\d+$/.test(text)) this.#retryMs = Number(text);
      }
    }
  }

  #dispatch(event) {
    if (event.data.length === 0) return;
    const origin = new URL(this.url).origin;
    const message = new MessageEvent(event.type || "message", {
      data: event.data.join("\n"),
      lastEventId: this.#lastEventId,
      origin,
    });
    this.dispatchEvent(message);
  }
}
