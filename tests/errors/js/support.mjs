// What the Node tests of the clients share: the servers tests/support/node.py started for them
// (read from the environment), a local HTTP server of the test's own, and assertions.

import assert from "node:assert/strict";
import http from "node:http";

import { ApiClient, ApiError } from "../../../errors/static/errors/client.js";

function required(name) {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run these tests through pytest (tests/support/node.py)`);
  return value;
}

/** The service (the test URLconf), and its twin that has no Redis and serves one at a time. */
export const SERVICE_URL = required("CORTEX_URL");
export const DEGRADED_URL = required("CORTEX_DEGRADED_URL");
/** @type {Record<string, {id: number, password: string, token: string}>} */
export const ACCOUNTS = JSON.parse(required("CORTEX_ACCOUNTS"));
export const EXPIRED_TOKEN = required("CORTEX_EXPIRED_TOKEN");
/** @type {{code: string, status: number}[]} */
export const CATALOG = JSON.parse(required("CORTEX_CATALOG"));
export const DB_VENDOR = required("CORTEX_DB_VENDOR");
export const DJANGO_VERSION = required("CORTEX_DJANGO_VERSION");

export const PROBLEM = "application/problem+json";
/** What a client that speaks RFC 9457 sends: JSON for results, problem details for errors. */
export const PROBLEM_ACCEPT = `application/json, ${PROBLEM}`;

/**
 * An ApiClient whose correlation ids are predictable (`<prefix>-1`, `<prefix>-2`, …) and recorded
 * in `client.sentIds`, so a test can tell which id went with which request.
 */
let sent = 0;

export function clientFor(baseUrl, options = {}, prefix = "js") {
  const sentIds = [];
  const client = new ApiClient(baseUrl, {
    correlationId: () => {
      const id = `${prefix}-${process.pid}-${(sent += 1)}`;
      sentIds.push(id);
      return id;
    },
    ...options,
  });
  client.sentIds = sentIds;
  return client;
}

/** The ApiError `promise` rejects with (it must reject with one). */
export async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected an ApiError, got ${error?.stack ?? error}`);
    return error;
  }
  assert.fail("the request succeeded");
}

/**
 * A local HTTP server answering with `handler(request, response, body)`; `requests` records what
 * came in. Closed by `close()` (connections included).
 */
export async function localServer(handler) {
  const requests = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      requests.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body,
        at: Date.now(),
      });
      handler(request, response, body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port nothing listens on: a server's, after it closed. */
export async function closedPort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A fresh token of `account`, from the service's token endpoint. */
export async function login(account) {
  const { password } = ACCOUNTS[account];
  const body = await new ApiClient(SERVICE_URL).post("/api/auth/token/", {
    username: account,
    password,
  });
  return body.token;
}

/** Resolves once `condition()` holds; fails after `timeoutMs`. */
export async function until(condition, timeoutMs = 5000, what = "the condition") {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
