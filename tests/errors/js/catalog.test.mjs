// Every code of the catalog that the service can answer with, produced by a real request and
// decoded by ApiClient: once as the JSON envelope, once as problem details, with the same result.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ACCOUNTS,
  CATALOG,
  DB_VENDOR,
  DEGRADED_URL,
  DJANGO_VERSION,
  EXPIRED_TOKEN,
  PROBLEM,
  PROBLEM_ACCEPT,
  SERVICE_URL,
  clientFor,
  failure,
} from "./support.mjs";

const WORKSPACES = "/api/workspaces/";
const JSON_HEADERS = { "Content-Type": "application/json" };
// Codes that come as a stream's `error` event only (stream.test.mjs decodes those).
const STREAM_ONLY = new Set(["stream_lagging"]);

const FORMS = {
  envelope: { contentType: "application/json", accept: "application/json" },
  problem: { contentType: PROBLEM, accept: PROBLEM_ACCEPT },
};

const TWICE = `Twice-${process.pid}`;
const STALE = { id: null };
const REQUIRED = { id: null };
const REUSED_KEY = { "Idempotency-Key": `reused-${process.pid}` };
const HELD = { "Idempotency-Key": `held-${process.pid}`, "X-Then": "hold" };
const MISSING = crypto.randomUUID();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The request of each case, with what the ApiError must hold beyond code and status (`status`
 * when it is not the catalog's). `send` gets the client and the form's Accept header; `setup`,
 * if any, runs once before both forms. `vendors` lists the databases that can produce the code
 * (default: both); `django` the first Django release that can (default: any); `baseUrl` the
 * server (default: the service); `token` alice's by default.
 */
const CASES = [
  {
    name: "validation_error of a workspace",
    code: "validation_error",
    send: (api) => api.post(WORKSPACES, { name: "", metadata: [1, 2] }),
    fieldErrors: { name: ["This field may not be blank."], metadata: ["Must be a JSON object."] },
  },
  {
    name: "validation_error by dotted path",
    code: "validation_error",
    send: (api) =>
      api.post("/t/drf/validate", {
        name: "n",
        metadata: { color: "green" },
        items: [{ name: "toolong" }],
      }),
    fieldErrors: {
      "metadata.color": ['"green" is not a valid choice.'],
      "items.0.name": ["Ensure this field has no more than 5 characters."],
    },
  },
  {
    name: "validation_error of no single field",
    code: "validation_error",
    send: (api) =>
      api.post("/t/drf/validate", { name: "forbidden", metadata: { color: "red" }, items: [] }),
    fieldErrors: { non_field_errors: ["This name is forbidden."] },
  },
  {
    code: "parse_error",
    send: (api) => api.post(WORKSPACES, '{"name": ', { headers: JSON_HEADERS }),
  },
  {
    name: "bad_request: a Host the service does not serve",
    code: "bad_request",
    // Only 127.0.0.1 is allowed: the same server as `localhost` is a DisallowedHost.
    baseUrl: SERVICE_URL.replace("127.0.0.1", "localhost"),
    send: (api) => api.get(WORKSPACES),
  },
  { code: "reference_error", send: (api) => api.post("/t/db/foreign-key") },
  {
    name: "client_error: a 418 page of a view",
    code: "client_error",
    status: 418,
    send: (api) => api.get("/t/plain/status/418"),
  },
  {
    code: "check_violation",
    send: (api) => api.post("/t/db/measurement", { label: "minus", quantity: -1 }),
  },
  {
    code: "not_null_violation",
    send: (api) => api.post("/t/db/measurement", { label: null, quantity: 1 }),
  },
  { code: "value_too_long", send: (api) => api.post("/t/db/too-long") },
  {
    code: "value_out_of_range",
    vendors: ["postgresql"],
    send: (api) => api.post("/t/db/measurement", { label: "big", quantity: 2 ** 31 }),
  },
  { code: "invalid_value", send: (api) => api.post("/t/db/invalid-value") },
  {
    code: "invalid_character",
    vendors: ["postgresql"],
    send: (api) =>
      api.post("/t/db/measurement", { label: "nul", quantity: 1, extra: { n: "a\u0000b" } }),
  },
  {
    code: "invalid_data",
    vendors: ["postgresql"],
    send: (api) => api.post("/t/db/measurement", { label: "a\u0000b", quantity: 1 }),
  },
  { code: "authentication_error", token: null, send: (api) => api.get(WORKSPACES) },
  { code: "token_expired", token: EXPIRED_TOKEN, send: (api) => api.get(WORKSPACES) },
  { code: "authorization_error", send: (api) => api.get("/t/drf/raise/drf_permission_denied") },
  { code: "not_found", send: (api) => api.get(`${WORKSPACES}${MISSING}/`) },
  { code: "method_not_allowed", send: (api) => api.delete(WORKSPACES) },
  {
    code: "not_acceptable",
    // Envelope: a type the service cannot produce. Problem: problem+json alone, which DRF cannot
    // answer a success with.
    send: (api, accept) =>
      api.get(WORKSPACES, {
        headers: { Accept: accept === PROBLEM_ACCEPT ? PROBLEM : "application/xml" },
      }),
  },
  { code: "conflict", send: (api) => api.post("/t/drf/raise/conflict_exception") },
  { code: "conflict_error", send: (api) => api.post("/t/db/unique") },
  {
    code: "update_conflict",
    // Model.NotUpdated came with Django 6.0; 5.2 raises a bare DatabaseError (database_error).
    django: [6, 0],
    send: (api) => api.post("/t/db/not-updated/update-fields"),
  },
  {
    code: "workspace_name_conflict",
    setup: (api) => api.post(WORKSPACES, { name: TWICE }),
    send: (api) => api.post(WORKSPACES, { name: TWICE.toLowerCase() }),
  },
  {
    code: "precondition_failed",
    // Changed once since version 1: an If-Match of "1" is stale.
    setup: async (api) => {
      const made = await api.post(WORKSPACES, { name: `Stale-${process.pid}` });
      await api.patch(`${WORKSPACES}${made.id}/`, { description: "changed" });
      STALE.id = made.id;
    },
    send: (api) =>
      api.patch(`${WORKSPACES}${STALE.id}/`, { description: "mine" }, { ifMatch: '"1"' }),
  },
  {
    code: "precondition_required",
    // The degraded server requires If-Match (REQUIRE_IF_MATCH); the workspace is alice's.
    baseUrl: DEGRADED_URL,
    setup: async (api) => {
      REQUIRED.id = (await api.post(WORKSPACES, { name: `Required-${process.pid}` })).id;
    },
    send: (api) =>
      api.patch(`${WORKSPACES}${REQUIRED.id}/`, { description: "x" }, { ifMatch: false }),
  },
  {
    code: "idempotency_key_invalid",
    send: (api) =>
      api.post(WORKSPACES, { name: "Keyed" }, { headers: { "Idempotency-Key": "not a key" } }),
  },
  {
    code: "idempotency_key_reused",
    setup: (api) =>
      api.post(WORKSPACES, { name: `Keyed-${process.pid}` }, { headers: REUSED_KEY }),
    send: (api) =>
      api.post(WORKSPACES, { name: `Other-${process.pid}` }, { headers: REUSED_KEY }),
  },
  {
    code: "idempotency_in_progress",
    retryAfter: 1,
    // The main server holds the first request for 3 s; the degraded one, another process, gets
    // the same key meanwhile. On SQLite it waits for the first one's transaction instead, and
    // gets its answer.
    vendors: ["postgresql"],
    baseUrl: DEGRADED_URL,
    setup: async (api) => {
      api.post("/t/idempotent/parents", { name: "held" }, { headers: HELD }).catch(() => {});
      await sleep(500);
    },
    send: (api) => api.post("/t/idempotent/parents", { name: "held" }, { headers: HELD }),
  },
  {
    code: "payload_too_large",
    send: (api) => api.post(WORKSPACES, { name: "big", description: "x".repeat(70 * 1024) }),
  },
  {
    code: "unsupported_media_type",
    send: (api) => api.post(WORKSPACES, "name\nx\n", { headers: { "Content-Type": "text/csv" } }),
  },
  {
    name: "rate_limit_exceeded (DRF's Throttled)",
    code: "rate_limit_exceeded",
    retryAfter: 13,
    send: (api) => api.get("/t/drf/raise/throttled"),
  },
  {
    name: "rate_limit_exceeded (RateLimitException)",
    code: "rate_limit_exceeded",
    retryAfter: 30,
    send: (api) => api.get("/t/drf/raise/rate_limit_exception"),
  },
  { code: "internal_error", send: (api) => api.get("/t/drf/raise/internal") },
  { code: "database_error", send: (api) => api.get("/t/db/error") },
  { code: "external_service_error", send: (api) => api.get("/t/drf/raise/external_service") },
  {
    name: "external_service_error that timed out",
    code: "external_service_error",
    status: 504,
    send: (api) => api.get("/t/drf/raise/external_timeout"),
  },
  {
    code: "service_unavailable",
    retryAfter: 7,
    send: (api) => api.get("/t/drf/raise/service_unavailable"),
  },
  { code: "db_connection_error", retryAfter: 5, send: (api) => api.get("/t/db/unreachable") },
  { code: "db_timeout", send: (api) => api.get("/t/db/timeout") },
  {
    name: "redis_unavailable: a stream while Redis is down",
    code: "redis_unavailable",
    baseUrl: DEGRADED_URL,
    retryAfter: 5,
    send: (api) => api.get("/api/events/"),
  },
  {
    name: "service_busy: a request that waited for its turn too long",
    code: "service_busy",
    baseUrl: DEGRADED_URL,
    retryAfter: 1,
    send: async (api) => {
      // The degraded server runs one request at a time and lets the next wait 1 s.
      const holder = api.get("/t/async/hold", { query: { seconds: 1.5 } });
      await sleep(200);
      try {
        return await api.get("/t/drf/ok");
      } finally {
        await holder;
      }
    },
  },
];

const tokenOf = (testCase) =>
  testCase.token === undefined ? ACCOUNTS.alice.token : testCase.token;

/** Send the case's request in one form: the ApiError, and the body and headers on the wire. */
async function produce(testCase, form) {
  let wire = null;
  const api = clientFor(testCase.baseUrl ?? SERVICE_URL, {
    token: tokenOf(testCase),
    headers: { Accept: FORMS[form].accept },
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      if (!response.ok) {
        const sentId = new Headers(init.headers).get("X-Correlation-ID");
        wire = { response: response.clone(), sentId };
      }
      return response;
    },
  });
  const error = await failure(testCase.send(api, FORMS[form].accept));
  assert.ok(wire, "no failed response was seen");
  const body = JSON.parse(await wire.response.text());
  return { error, body, headers: wire.response.headers, sentId: wire.sentId };
}

const entryOf = new Map(CATALOG.map((entry) => [entry.code, entry]));

test("every code of the catalog has a case here or in stream.test.mjs", () => {
  const covered = new Set([...CASES.map((c) => c.code), ...STREAM_ONLY]);
  const codes = CATALOG.map((e) => e.code);
  assert.deepEqual(
    codes.filter((code) => !covered.has(code)),
    [],
    "codes without a case",
  );
  assert.deepEqual(
    [...covered].filter((code) => !entryOf.has(code)),
    [],
    "not in the catalog",
  );
});

for (const testCase of CASES) {
  const status = testCase.status ?? entryOf.get(testCase.code)?.status;
  const vendors = testCase.vendors ?? ["postgresql", "sqlite"];
  const [major, minor] = DJANGO_VERSION.split(".").map(Number);
  const [needsMajor, needsMinor] = testCase.django ?? [0, 0];
  const djangoCan = major > needsMajor || (major === needsMajor && minor >= needsMinor);
  const skip = !vendors.includes(DB_VENDOR)
    ? `${DB_VENDOR} cannot produce ${testCase.code}`
    : !djangoCan
      ? `Django ${DJANGO_VERSION} cannot produce ${testCase.code}`
      : false;

  test(testCase.name ?? testCase.code, { skip }, async () => {
    await testCase.setup?.(clientFor(SERVICE_URL, { token: tokenOf(testCase) }));
    const decoded = {};
    for (const form of Object.keys(FORMS)) {
      const { error, body, headers, sentId } = await produce(testCase, form);
      const where = `${form}: ${JSON.stringify(body)}`;
      assert.equal(headers.get("Content-Type"), FORMS[form].contentType, where);
      assert.equal(error.name, "ApiError");
      assert.equal(error.code, testCase.code, where);
      assert.equal(error.status, status, where);
      assert.equal(error.isNetworkError, false);
      // The id the client sent is the one the service adopted, answered and logged under.
      assert.equal(error.correlationId, sentId, where);
      assert.equal(headers.get("X-Correlation-ID"), sentId, where);
      if (form === "envelope") {
        assert.equal(error.message, body.error.message, where);
        assert.equal(error.correlationId, body.error.correlation_id, where);
        assert.deepEqual(error.details, body.error.details ?? {}, where);
      } else {
        assert.equal(error.message, body.detail, where);
        assert.equal(error.code, body.code, where);
        assert.equal(body.type, `/api/errors/${testCase.code}`, where);
        assert.equal(error.correlationId, body.correlation_id, where);
        assert.deepEqual(error.fieldErrors, body.errors ?? {}, where);
      }
      assert.ok(error.message.length > 0, where);
      assert.deepEqual(error.fieldErrors, testCase.fieldErrors ?? {}, where);
      const retryAfter = testCase.retryAfter ?? null;
      assert.equal(headers.get("Retry-After"), retryAfter === null ? null : String(retryAfter));
      assert.equal(error.retryAfter, retryAfter, where);
      decoded[form] = error;
    }
    // Both forms carry the same facts, and the client makes the same ApiError of them.
    const facts = (e) => ({
      code: e.code,
      status: e.status,
      message: e.message,
      details: e.details,
      fieldErrors: e.fieldErrors,
      retryAfter: e.retryAfter,
    });
    assert.deepEqual(facts(decoded.problem), facts(decoded.envelope));
  });
}
