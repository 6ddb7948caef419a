// EventStream against the service's real event stream: tickets, typed events, reconnection that
// resumes where it left off, `event: error` and `events_lost`, and the end of a revoked session.
// Node has no EventSource; TestEventSource (eventsource.mjs) stands in for the browser's.

import assert from "node:assert/strict";
import { register } from "node:module";
import { afterEach, test } from "node:test";

import { ApiClient, ApiError } from "../../../errors/static/errors/client.js";
import { TestEventSource } from "./eventsource.mjs";
import {
  ACCOUNTS,
  DEGRADED_URL,
  SERVICE_URL,
  clientFor,
  closedPort,
  login,
  until,
} from "../../errors/js/support.mjs";

// stream.js imports the client as served, from "../errors/client.js": resolved as /static/ lays
// the files out (static-layout.mjs), to the same module as the tests' own import above.
register("./static-layout.mjs", import.meta.url);
const { EventStream } = await import("../../../eventstream/static/eventstream/stream.js");

const WORKSPACES = "/api/workspaces/";
const EVENT_ID = /^\d+-\d+$/;

const streams = [];
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

/**
 * An EventStream of `token`'s user on `baseUrl`, with what it reported: `states`, `errors`,
 * `lost`, `created` (workspace.created data) and `tickets` (each ticket the client was given).
 * `holdTickets()` keeps ticket requests waiting, and so the stream disconnected, until the
 * function it returns is called.
 */
function watch(token, { baseUrl = SERVICE_URL, onAuthError } = {}) {
  const tickets = [];
  let hold = null;
  const api = clientFor(baseUrl, {
    token,
    onAuthError,
    fetch: async (url, init) => {
      const isTicket = String(url).endsWith("/api/events/tickets/");
      if (isTicket) await hold;
      const response = await fetch(url, init);
      if (isTicket && response.ok) tickets.push((await response.clone().json()).ticket);
      return response;
    },
  });
  const stream = new EventStream(api, {
    EventSource: TestEventSource,
    reconnectDelayMs: 50,
    maxReconnectDelayMs: 200,
  });
  streams.push(stream);
  const holdTickets = () => {
    let release;
    hold = new Promise((resolve) => (release = resolve));
    return () => {
      hold = null;
      release();
    };
  };
  const seen = {
    api,
    stream,
    tickets,
    holdTickets,
    states: [],
    errors: [],
    lost: [],
    created: [],
    established: [],
  };
  stream.onState((state) => seen.states.push(state));
  stream.onError((error) => seen.errors.push(error));
  stream.onEventsLost((info) => seen.lost.push(info));
  stream.on("workspace.created", (data, event) =>
    seen.created.push({ data, id: event.lastEventId }),
  );
  stream.on("connection_established", (data) => seen.established.push(data));
  return seen;
}

const sources = () => TestEventSource.instances;
const query = (source) => new URL(source.url).searchParams;

async function create(api, name, extra = {}) {
  return api.post(WORKSPACES, { name, ...extra });
}

test("a ticket opens the stream; typed events arrive with their data and id", async () => {
  const carol = ACCOUNTS.carol;
  const watched = watch(carol.token);
  const before = sources().length;
  assert.equal(watched.stream.open(), watched.stream);
  assert.equal(watched.stream.state, "connecting");
  await until(() => watched.stream.state === "open", 5000, "the stream to open");
  assert.deepEqual(watched.states, ["connecting", "open"]);
  assert.equal(sources().length, before + 1);
  const source = sources().at(-1);
  assert.equal(new URL(source.url).pathname, "/api/events/");
  assert.equal(query(source).get("ticket"), watched.tickets[0]);
  assert.equal(query(source).has("last_event_id"), false);
  await until(() => watched.established.length === 1, 2000, "connection_established");
  assert.equal(watched.established[0].user_id, carol.id);

  const workspace = await create(watched.api, `Live ${process.pid}`);
  await until(() => watched.created.length === 1, 5000, "workspace.created");
  const [{ data, id }] = watched.created;
  assert.equal(data.type, "workspace.created");
  assert.deepEqual(data.workspace, workspace);
  assert.equal(data.correlation_id, watched.api.sentIds.at(-1)); // the POST's own id
  assert.match(id, EVENT_ID);
  assert.equal(watched.stream.lastEventId, id);

  // Unsubscribed, a handler hears nothing more.
  const heard = [];
  const unsubscribe = watched.stream.on("workspace.deleted", (event) => heard.push(event));
  await watched.api.delete(`${WORKSPACES}${workspace.id}/`);
  await until(() => heard.length === 1, 5000, "workspace.deleted");
  unsubscribe();
  const again = await create(watched.api, `Live ${process.pid} again`);
  await watched.api.delete(`${WORKSPACES}${again.id}/`);
  await until(() => watched.created.length === 2, 5000, "the second workspace.created");
  assert.equal(heard.length, 1);

  watched.stream.close();
  assert.equal(watched.stream.state, "closed");
  assert.equal(source.readyState, TestEventSource.CLOSED);
  assert.deepEqual(watched.errors, []);
});

test("after a broken connection: a fresh ticket, last_event_id, and nothing missed", async () => {
  const watched = watch(ACCOUNTS.carol.token);
  watched.stream.open();
  await until(() => watched.stream.state === "open", 5000, "the stream to open");
  await create(watched.api, `Before ${process.pid}`);
  await until(() => watched.created.length === 1, 5000, "the first event");
  const first = sources().at(-1);
  const seenId = watched.stream.lastEventId;

  const release = watched.holdTickets();
  first.drop();
  await until(() => watched.stream.state === "connecting", 1000, "connecting");
  // Published while no stream is open: the replay must bring them.
  await create(watched.api, `Missed ${process.pid} 1`);
  await create(watched.api, `Missed ${process.pid} 2`);
  assert.equal(watched.created.length, 1);
  release();
  await until(() => watched.created.length === 3, 5000, "the missed events");
  await create(watched.api, `After ${process.pid}`);
  await until(() => watched.created.length === 4, 5000, "a live event after the replay");

  assert.deepEqual(
    watched.created.map(({ data }) => data.workspace.name),
    [
      `Before ${process.pid}`,
      `Missed ${process.pid} 1`,
      `Missed ${process.pid} 2`,
      `After ${process.pid}`,
    ],
  );
  const second = sources().at(-1);
  assert.notEqual(second, first);
  assert.equal(query(second).get("last_event_id"), seenId);
  assert.equal(watched.tickets.length, 2);
  assert.notEqual(watched.tickets[0], watched.tickets[1]);
  assert.equal(query(second).get("ticket"), watched.tickets[1]);
  // The client closed the broken EventSource itself: it never retried with its spent ticket.
  assert.equal(first.readyState, TestEventSource.CLOSED);
  assert.equal(first.connections, 1);
  assert.deepEqual(watched.states, ["connecting", "open", "connecting", "open"]);
  assert.deepEqual(watched.lost, []);
  assert.deepEqual(watched.errors, []);
});

test("more missed than the service holds: events_lost, then the stream goes on", async () => {
  const watched = watch(ACCOUNTS.carol.token);
  watched.stream.open();
  await until(() => watched.stream.state === "open", 5000, "the stream to open");
  await create(watched.api, `Seen ${process.pid}`);
  await until(() => watched.created.length === 1, 5000, "the first event");
  const seenId = watched.stream.lastEventId;

  const release = watched.holdTickets();
  sources().at(-1).drop();
  await until(() => watched.stream.state === "connecting", 1000, "connecting");
  // The service holds the last 8 of each user's events (SSE_REPLAY_BUFFER_SIZE).
  for (let n = 0; n < 10; n += 1) await create(watched.api, `Gone ${process.pid} ${n}`);
  release();
  await until(() => watched.lost.length === 1, 5000, "events_lost");
  assert.equal(watched.lost[0].lastEventId, seenId);
  assert.equal(typeof watched.lost[0].message, "string");
  assert.ok(watched.lost[0].message.length > 0);

  await create(watched.api, `Live ${process.pid} after the gap`);
  await until(
    () => watched.created.at(-1)?.data.workspace.name === `Live ${process.pid} after the gap`,
    5000,
    "a live event",
  );
  assert.equal(watched.stream.state, "open");
  assert.deepEqual(watched.errors, []);
});

/** How many stream_lagging errors the service has counted (its /metrics). */
async function laggingCount() {
  const text = await (await fetch(`${SERVICE_URL}/metrics`)).text();
  return Number(
    text.match(/^errors_handled_total\{code="stream_lagging",status="408"\} (\S+)$/m)?.[1] ?? 0,
  );
}

test("event: error is an ApiError; the stream reconnects from the last event it saw", async () => {
  // A client that stops reading is cut off once the service has 2 chunks queued for it
  // (SSE_QUEUE_SIZE) besides what the sockets hold (a few MB: ~300 of these 16 kB events).
  const watched = watch(ACCOUNTS.dave.token);
  watched.stream.open();
  await until(() => watched.stream.state === "open", 5000, "the stream to open");
  const stalled = sources().at(-1);
  stalled.pause();
  const payload = { description: "d".repeat(1000), metadata: { blob: "x".repeat(15000) } };
  const before = await laggingCount();
  for (let n = 0; (await laggingCount()) === before; n += 8) {
    assert.ok(n < 2000, "the service never cut the stream off");
    const batch = Array.from({ length: 8 }, (_, i) =>
      create(watched.api, `Big ${process.pid} ${n + i}`, payload),
    );
    await Promise.all(batch);
  }
  // More than the service holds (SSE_REPLAY_BUFFER_SIZE is 8) happen after the cut-off.
  for (let n = 0; n < 10; n += 1) await create(watched.api, `After the cut ${process.pid} ${n}`);
  stalled.resume();

  await until(() => watched.errors.length === 1, 10000, "the error event");
  const [error] = watched.errors;
  assert.ok(error instanceof ApiError);
  assert.equal(error.code, "stream_lagging");
  assert.equal(error.status, 0);
  assert.equal(error.message, "The client fell too far behind; reconnect with Last-Event-ID");
  assert.match(error.correlationId, /^[0-9a-f-]{36}$/); // the stream request's, made by the service
  assert.deepEqual(error.fieldErrors, {});
  assert.equal(error.isNetworkError, false);

  const cutAt = watched.stream.lastEventId;
  await until(
    () => sources().at(-1) !== stalled && watched.stream.state === "open",
    5000,
    "the reconnection",
  );
  assert.equal(query(sources().at(-1)).get("last_event_id"), cutAt);
  assert.equal(stalled.connections, 1);
  // What was missed is more than the replay buffer holds: the client is told so.
  await until(() => watched.lost.length === 1, 5000, "events_lost");
  assert.equal(watched.lost[0].lastEventId, cutAt);
});

test("a ticket refused with 401 ends the stream and calls onAuthError", async () => {
  const token = await login("dave");
  const authErrors = [];
  const watched = watch(token, { onAuthError: (error) => authErrors.push(error) });
  watched.stream.open();
  await until(() => watched.stream.state === "open", 5000, "the stream to open");
  await new ApiClient(SERVICE_URL, { token }).post("/api/auth/logout/");
  const count = sources().length;

  sources().at(-1).drop();
  await until(() => watched.stream.state === "closed", 5000, "closed");
  assert.deepEqual(watched.states, ["connecting", "open", "connecting", "closed"]);
  assert.equal(authErrors.length, 1);
  assert.equal(authErrors[0].status, 401);
  assert.deepEqual(watched.errors, authErrors);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(sources().length, count); // no EventSource after the refusal
});

test("a refused stream is retried, each time with a fresh ticket, until closed", async () => {
  // The degraded service issues tickets but refuses streams: its Redis is gone (503).
  const watched = watch(ACCOUNTS.carol.token, { baseUrl: DEGRADED_URL });
  const before = sources().length;
  watched.stream.open();
  await until(() => sources().length >= before + 3, 5000, "three attempts");
  watched.stream.close();
  const attempts = sources().slice(before);
  assert.ok(
    attempts.every(
      (source) => source.connections === 1 && source.readyState === TestEventSource.CLOSED,
    ),
  );
  const used = attempts.map((source) => query(source).get("ticket"));
  assert.equal(new Set(used).size, used.length);
  assert.ok(!watched.states.includes("open"));
  assert.equal(watched.stream.state, "closed");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(sources().length, before + attempts.length);
});

test("no ticket, no server: onError gets network_error and the stream keeps trying", async () => {
  const api = new ApiClient(`http://127.0.0.1:${await closedPort()}`, {
    token: ACCOUNTS.carol.token,
  });
  const stream = new EventStream(api, {
    EventSource: TestEventSource,
    reconnectDelayMs: 20,
    maxReconnectDelayMs: 40,
  });
  streams.push(stream);
  const errors = [];
  stream.onError((error) => errors.push(error));
  stream.open();
  await until(() => errors.length >= 2, 3000, "two failed ticket requests");
  assert.ok(errors.every((error) => error.code === "network_error" && error.status === 0));
  assert.equal(stream.state, "connecting");
  stream.close();
  assert.equal(stream.state, "closed");
});
