// The design document's ApiClient (spec_client.mjs), as the document wrote it, against the
// service started by tests/accounts/test_spec_client.py: it sends `Authorization: Bearer`, and
// gets the answers the document expects. Where the client itself is wrong, the tests say so and
// assert what it really does.

import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";

import { ApiClient, isErrorResponse } from "./spec_client.mjs";

function required(name) {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run them through tests/accounts/test_spec_client.py`);
  return value;
}

const SERVICE_URL = required("CORTEX_URL");
/** @type {Record<string, {id: number, password: string, token: string}>} */
const ACCOUNTS = JSON.parse(required("CORTEX_ACCOUNTS"));
// The document's own paths: no trailing slash (the service answers with and without one).
const WORKSPACES = "/api/workspaces";
const CHALLENGE = 'Token, Bearer realm="api"';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What `promise` rejects with (it must reject). */
async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("the request succeeded");
}

// The client is a browser's: on a 401 it writes to localStorage and redirects through
// window.location, which Node does not have. These stand in for them; console.error, where the
// client logs each error with its correlation id, is recorded.
let logged = [];
const consoleError = console.error;
before(() => {
  globalThis.window = { location: { pathname: "/workspaces", href: "/workspaces" } };
  const stored = new Map();
  globalThis.localStorage = {
    setItem: (key, value) => stored.set(key, String(value)),
    getItem: (key) => (stored.has(key) ? stored.get(key) : null),
  };
});
after(() => {
  delete globalThis.window;
  delete globalThis.localStorage;
});
beforeEach(() => {
  logged = [];
  console.error = (...args) => logged.push(args);
});
afterEach(() => {
  console.error = consoleError;
});

/** The error the client logged last, after checking that it named the correlation id. */
function lastLogged() {
  assert.ok(logged.length > 0, "the client logged no error");
  const [line, error] = logged.at(-1);
  assert.equal(line, `API Error (${error.correlation_id}):`);
  assert.match(error.correlation_id, UUID);
  return error;
}

describe("the design document's ApiClient against the service", () => {
  const alice = ACCOUNTS.alice;
  const api = new ApiClient(SERVICE_URL);
  const name = `Spec ${process.pid}`;
  let created;

  test("login: POST /api/auth/token/ gives the token it then sends as Bearer", async () => {
    const body = await api.post("/api/auth/token/", {
      username: "alice",
      password: alice.password,
    });
    assert.deepEqual(Object.keys(body).sort(), ["expires_at", "token"]);
    assert.ok(Date.parse(body.expires_at) > Date.now());
    api.setToken(body.token);
    assert.equal(logged.length, 0);
  });

  test("list: the caller's workspaces, a page of them", async () => {
    const page = await api.get(WORKSPACES);
    assert.equal(page.count, 0);
    assert.deepEqual(page.results, []);
  });

  test("create: 201 with the workspace, which the list then has", async () => {
    created = await api.post(WORKSPACES, { name, description: "from the spec's client" });
    assert.match(created.id, UUID);
    assert.equal(created.name, name);
    assert.equal(created.description, "from the spec's client");
    const page = await api.get(WORKSPACES);
    assert.deepEqual(page.results.map((w) => w.id), [created.id]);
    assert.equal(logged.length, 0);
  });

  test("a validation error: 400 validation_error with the field errors for the form", async () => {
    const error = await rejection(api.post(WORKSPACES, { name: "   ", metadata: [] }));
    assert.equal(error.status, 400);
    assert.equal(error.code, "validation_error");
    assert.equal(error.message, "Validation error");
    assert.deepEqual(Object.keys(error.fieldErrors).sort(), ["metadata", "name"]);
    for (const messages of Object.values(error.fieldErrors)) {
      assert.ok(messages.length > 0 && messages.every((m) => typeof m === "string"));
    }
    assert.deepEqual(error.fieldErrors, error.details.field_errors);
    assert.equal(lastLogged().code, "validation_error");
  });

  test("a name conflict: 409 workspace_name_conflict, whatever the case", async () => {
    const error = await rejection(api.post(WORKSPACES, { name: name.toUpperCase() }));
    assert.equal(error.status, 409);
    assert.equal(error.code, "workspace_name_conflict");
    assert.match(error.correlation_id, UUID);
    assert.equal(typeof error.message, "string");
    assert.equal(lastLogged().status, 409);
  });

  test("a workspace that is not there: 404 not_found", async () => {
    const error = await rejection(api.get(`${WORKSPACES}/${crypto.randomUUID()}`));
    assert.equal(error.status, 404);
    assert.equal(error.code, "not_found");
    assert.match(error.correlation_id, UUID);
    assert.equal(lastLogged().code, "not_found");
  });

  test("delete: 204, which the client cannot read (its defect)", async () => {
    // The client parses every body as JSON: the 204's empty one is a SyntaxError, which it
    // re-throws, so a delete that worked is reported as a failure.
    const error = await rejection(api.delete(`${WORKSPACES}/${created.id}`));
    assert.ok(error instanceof SyntaxError, `expected a SyntaxError, got ${error}`);
    assert.equal(logged.length, 0); // not an API error: nothing logged
    // The workspace is gone all the same.
    assert.equal((await rejection(api.get(`${WORKSPACES}/${created.id}`))).status, 404);
    assert.equal((await api.get(WORKSPACES)).count, 0);
  });

  test("the event stream takes the same Bearer token", async () => {
    // Not the client's (it has no streams): what a client sends it with the client's header.
    const controller = new AbortController();
    const response = await fetch(`${SERVICE_URL}/api/events/`, {
      headers: { Authorization: `Bearer ${api.token}` },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("Content-Type"), /^text\/event-stream/);
    controller.abort();
  });

  test("after logout: 401, the client forgets the token and redirects to /login", async () => {
    const token = api.token;
    // The logout's 204 is the same defect as the delete's; the token is revoked all the same.
    assert.ok((await rejection(api.post("/api/auth/logout/"))) instanceof SyntaxError);
    assert.equal(api.token, token);

    const answer = await api.get(WORKSPACES);
    // The document expects a redirect to log in again: it forgets the token and redirects...
    assert.equal(api.token, null);
    assert.equal(localStorage.getItem("auth_redirect"), "/workspaces");
    assert.equal(window.location.href, "/login");
    const error = lastLogged();
    assert.equal(error.status, 401);
    assert.equal(error.code, "authentication_error");
    assert.equal(error.message, "Invalid token.");
    // ...but then (its defect) resolves with the error envelope as if it were the result.
    assert.ok(isErrorResponse(answer));
    assert.deepEqual(answer.error, {
      code: error.code,
      message: error.message,
      correlation_id: error.correlation_id,
    });

    // What the 401 says, which the client does not look at: both schemes.
    const refused = await fetch(`${SERVICE_URL}${WORKSPACES}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("WWW-Authenticate"), CHALLENGE);
    assert.equal((await refused.json()).error.code, "authentication_error");
  });
});
