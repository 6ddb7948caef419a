// ApiClient beyond the catalog: successes, what it sends, failures that are not the service's
// (no response, a proxy's page), retries after Retry-After (POST's with an Idempotency-Key),
// ETags sent back as If-Match, onAuthError and correlation ids.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ApiClient, ApiError } from "../../../errors/static/errors/client.js";
import { ACCOUNTS, SERVICE_URL, clientFor, closedPort, failure, localServer } from "./support.mjs";

const WORKSPACES = "/api/workspaces/";
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("against the service", () => {
  const bob = () => clientFor(SERVICE_URL, { token: ACCOUNTS.bob.token });

  test("a workspace's life: JSON bodies in and out, null for the 204", async () => {
    const api = bob();
    const created = await api.post(WORKSPACES, {
      name: `Life ${process.pid}`,
      metadata: { color: "blue" },
    });
    assert.equal(created.name, `Life ${process.pid}`);
    assert.deepEqual(created.metadata, { color: "blue" });
    const path = `${WORKSPACES}${created.id}/`;
    assert.deepEqual(await api.get(path), created);
    assert.equal((await api.patch(path, { description: "patched" })).description, "patched");
    const replaced = await api.put(path, { name: `Life ${process.pid} again` });
    assert.equal(replaced.name, `Life ${process.pid} again`);
    assert.equal(await api.delete(path), null);
    assert.equal((await failure(api.get(path))).code, "not_found");
  });

  test("with languages, DRF's field messages come in the first the service speaks", async () => {
    const api = clientFor(SERVICE_URL, { token: ACCOUNTS.bob.token, languages: ["pt", "de"] });
    const error = await failure(api.post(WORKSPACES, { name: "" }));
    assert.equal(error.code, "validation_error");
    assert.deepEqual(error.fieldErrors.name, ["Dieses Feld darf nicht leer sein."]);
    assert.equal(error.response.headers.get("Content-Language"), "de");
  });

  test("query parameters: null and undefined are left out", async () => {
    const api = bob();
    await api.post(WORKSPACES, { name: `Query ${process.pid} 1` });
    await api.post(WORKSPACES, { name: `Query ${process.pid} 2` });
    const page = await api.get(WORKSPACES, {
      query: { limit: 1, offset: null, unused: undefined },
    });
    assert.equal(page.results.length, 1);
    assert.match(page.next, /[?&]limit=1&offset=1$/);
    const error = await failure(api.get(WORKSPACES, { query: { limit: 0 } }));
    assert.equal(error.code, "validation_error");
    assert.deepEqual(Object.keys(error.fieldErrors), ["limit"]);
  });

  test("the id the client sends is the request's id: in the answer and the body", async () => {
    const api = bob();
    const body = await api.get("/t/drf/ok");
    assert.equal(body.correlation_id, api.sentIds[0]);
    const error = await failure(api.get("/t/drf/raise/internal"));
    assert.equal(error.correlationId, api.sentIds[1]);
    assert.equal(error.response.headers.get("X-Correlation-ID"), api.sentIds[1]);
    assert.equal(error.message, "Internal server error");
  });

  test("by default each request has a fresh UUID of its own", async () => {
    const api = new ApiClient(SERVICE_URL, { token: ACCOUNTS.bob.token });
    const first = (await api.get("/t/drf/ok")).correlation_id;
    const second = (await api.get("/t/drf/ok")).correlation_id;
    assert.match(first, UUID4);
    assert.match(second, UUID4);
    assert.notEqual(first, second);
  });

  test("a 401 calls onAuthError with the ApiError then thrown; nothing redirects", async () => {
    const seen = [];
    const api = new ApiClient(SERVICE_URL, {
      token: "not-a-token",
      onAuthError: (error) => seen.push(error),
    });
    const error = await failure(api.get(WORKSPACES));
    assert.equal(error.status, 401);
    assert.equal(error.code, "authentication_error");
    assert.equal(error.response.headers.get("WWW-Authenticate"), 'Token, Bearer realm="api"');
    assert.deepEqual(seen, [error]);
    // A token set later is used from then on; other refusals do not call it.
    api.token = ACCOUNTS.bob.token;
    assert.equal(typeof (await api.get(WORKSPACES)).count, "number");
    assert.equal((await failure(api.get("/t/drf/raise/drf_permission_denied"))).status, 403);
    assert.equal(seen.length, 1);
  });
});

describe("failures that are not the service's", () => {
  test("no server: status 0, network_error, and the id the request was sent with", async () => {
    const api = clientFor(`http://127.0.0.1:${await closedPort()}`);
    const error = await failure(api.get(WORKSPACES));
    assert.equal(error.code, "network_error");
    assert.equal(error.status, 0);
    assert.equal(error.message, "Server unreachable");
    assert.equal(error.isNetworkError, true);
    assert.equal(error.correlationId, api.sentIds[0]);
    assert.equal(error.response, null);
    assert.ok(error.cause instanceof TypeError);
  });

  test("a connection that breaks before the answer is a network_error too", async () => {
    const server = await localServer((request) => request.socket.destroy());
    try {
      const api = clientFor(server.url);
      const error = await failure(api.get("/"));
      assert.equal(error.code, "network_error");
      assert.equal(error.correlationId, api.sentIds[0]);
    } finally {
      await server.close();
    }
  });

  const BODIES = [
    {
      what: "a proxy's HTML 502",
      status: 502,
      type: "text/html",
      body: "<html><h1>502 Bad Gateway</h1></html>",
      message: "HTTP 502 Bad Gateway",
    },
    {
      what: "HTML labelled JSON",
      status: 500,
      type: "application/json",
      body: "<html>oops</html>",
      message: "HTTP 500 Internal Server Error",
    },
    {
      what: "an empty 504",
      status: 504,
      type: null,
      body: "",
      message: "HTTP 504 Gateway Timeout",
    },
    {
      what: "another service's JSON error",
      status: 418,
      type: "application/json",
      body: '{"detail": "teapot"}',
      message: "HTTP 418 I'm a Teapot",
    },
  ];
  for (const { what, status, type, body, message } of BODIES) {
    test(`${what}: http_error with the status and the id that was sent`, async () => {
      const server = await localServer((request, response) => {
        response.writeHead(status, type ? { "Content-Type": type } : {});
        response.end(body);
      });
      try {
        const api = clientFor(server.url);
        const error = await failure(api.get("/api/workspaces/"));
        assert.equal(error.code, "http_error");
        assert.equal(error.status, status);
        assert.equal(error.message, message);
        assert.equal(error.correlationId, api.sentIds[0]);
        assert.deepEqual(error.details, {});
        assert.deepEqual(error.fieldErrors, {});
        assert.equal(error.isNetworkError, false);
      } finally {
        await server.close();
      }
    });
  }

  test("a success whose JSON cannot be read is an http_error, not a SyntaxError", async () => {
    const server = await localServer((request, response) => {
      response.writeHead(200, {
        "Content-Type": "application/json",
        "X-Correlation-ID": "upstream-id",
      });
      response.end("{truncated");
    });
    try {
      const error = await failure(clientFor(server.url).get("/"));
      assert.equal(error.code, "http_error");
      assert.equal(error.status, 200);
      assert.equal(error.correlationId, "upstream-id");
      assert.ok(error.cause instanceof SyntaxError);
    } finally {
      await server.close();
    }
  });

  test("aborting rejects with the signal's reason, not an ApiError", async () => {
    const server = await localServer(() => {}); // never answers
    try {
      const controller = new AbortController();
      const pending = clientFor(server.url).get("/", { signal: controller.signal });
      controller.abort(new Error("the user left"));
      await assert.rejects(pending, { message: "the user left" });
    } finally {
      await server.close();
    }
  });
});

describe("what the client sends", () => {
  async function sent(send) {
    const server = await localServer((request, response) => {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end('{"ok": true}');
    });
    try {
      assert.deepEqual(await send(server.url), { ok: true });
      return server.requests[0];
    } finally {
      await server.close();
    }
  }

  test("JSON, the token, Accept and its correlation id", async () => {
    let api;
    const request = await sent((url) => {
      api = clientFor(url, { token: "t0k3n", headers: { "X-Client": "console" } });
      return api.post("/things/", { a: [1, "b"] }, { headers: { "X-Extra": "1" } });
    });
    assert.equal(request.method, "POST");
    assert.equal(request.url, "/things/");
    assert.equal(request.body, '{"a":[1,"b"]}');
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers.accept, "application/json");
    assert.equal(request.headers.authorization, "Token t0k3n");
    assert.equal(request.headers["x-correlation-id"], api.sentIds[0]);
    assert.equal(request.headers["x-client"], "console");
    assert.equal(request.headers["x-extra"], "1");
  });

  test("forms and strings as they are", async () => {
    const form = await sent((url) =>
      clientFor(url).post("/", new URLSearchParams({ a: "1", b: "x y" })),
    );
    assert.equal(form.headers["content-type"], "application/x-www-form-urlencoded;charset=UTF-8");
    assert.equal(form.body, "a=1&b=x+y");
    const text = await sent((url) =>
      clientFor(url).put("/", "plain words", { headers: { "Content-Type": "text/plain" } }),
    );
    assert.equal(text.headers["content-type"], "text/plain");
    assert.equal(text.body, "plain words");
    const none = await sent((url) => clientFor(url).get("/"));
    assert.equal(none.headers["content-type"], undefined);
  });

  test("a request's headers win over the client's, whatever their case", async () => {
    const request = await sent((url) =>
      clientFor(url, { headers: { accept: "application/json, application/problem+json" } }).get(
        "/",
        {
          headers: { "x-correlation-id": "mine", ACCEPT: "application/problem+json" },
        },
      ),
    );
    assert.equal(request.headers.accept, "application/problem+json");
    assert.equal(request.headers["x-correlation-id"], "mine");
  });

  // What Node's fetch sends when nobody set Accept-Language.
  const NO_LANGUAGE = "*";

  /** Run `send` where the global scope looks like a browser's whose languages are `languages`. */
  async function inBrowser(languages, send) {
    const saved = ["self", "navigator"].map((name) => [
      name,
      Object.getOwnPropertyDescriptor(globalThis, name),
    ]);
    Object.defineProperty(globalThis, "self", { value: globalThis, configurable: true });
    Object.defineProperty(globalThis, "navigator", { value: { languages }, configurable: true });
    try {
      return await send();
    } finally {
      for (const [name, descriptor] of saved) {
        if (descriptor) Object.defineProperty(globalThis, name, descriptor);
        else delete globalThis[name];
      }
    }
  }

  test("in a browser, its languages as Accept-Language, most wanted first", async () => {
    const request = await inBrowser(["de-DE", "de", "en-US", "en"], () =>
      sent((url) => clientFor(url).get("/")),
    );
    assert.equal(request.headers["accept-language"], "de-DE, de;q=0.9, en-US;q=0.8, en;q=0.7");
  });

  test("outside a browser no Accept-Language unless languages are given", async () => {
    const none = await sent((url) => clientFor(url).get("/"));
    assert.equal(none.headers["accept-language"], NO_LANGUAGE);
    const given = await sent((url) => clientFor(url, { languages: ["fr", "es"] }).get("/"));
    assert.equal(given.headers["accept-language"], "fr, es;q=0.9");
  });

  test("languages: a list wins over the browser's, false sends none", async () => {
    const list = await inBrowser(["de-DE"], () =>
      sent((url) => clientFor(url, { languages: ["es-ES", "es"] }).get("/")),
    );
    assert.equal(list.headers["accept-language"], "es-ES, es;q=0.9");
    const off = await inBrowser(["de-DE"], () =>
      sent((url) => clientFor(url, { languages: false }).get("/")),
    );
    assert.equal(off.headers["accept-language"], NO_LANGUAGE);
  });

  test("an Accept-Language the caller set is never replaced", async () => {
    const client = await inBrowser(["de-DE"], () =>
      sent((url) => clientFor(url, { headers: { "Accept-Language": "fr" } }).get("/")),
    );
    assert.equal(client.headers["accept-language"], "fr");
    const request = await sent((url) =>
      clientFor(url, { languages: ["de"] }).get("/", { headers: { "accept-language": "es" } }),
    );
    assert.equal(request.headers["accept-language"], "es");
  });
});

describe("retries on 429 and 503", () => {
  /**
   * A server that answers the statuses in `script` in turn (a number, or [status, code] for
   * another code than service_busy), then 200; Retry-After as given.
   */
  async function flaky(script, retryAfter = "1") {
    let answered = 0;
    return localServer((request, response) => {
      const step = script[answered++];
      if (step === undefined) {
        response.writeHead(200, { "Content-Type": "application/json" });
        return response.end('{"ok": true}');
      }
      const [status, code] = Array.isArray(step) ? step : [step, "service_busy"];
      response.writeHead(status, { "Content-Type": "application/json", "Retry-After": retryAfter });
      response.end(
        JSON.stringify({
          error: {
            code,
            message: "Busy",
            correlation_id: request.headers["x-correlation-id"],
          },
        }),
      );
    });
  }

  test("onRetry hears of each refused attempt before the call ends", async () => {
    const server = await flaky([503, [429, "rate_limit_exceeded"]]);
    try {
      const heard = [];
      const onRetry = (error, wait) => heard.push([error.status, error.code, wait]);
      const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5, onRetry } });
      assert.deepEqual(await api.get("/"), { ok: true });
      assert.deepEqual(heard, [
        [503, "service_busy", 1],
        [429, "rate_limit_exceeded", 1],
      ]);
      const last = await flaky([503, 503]);
      try {
        heard.length = 0;
        const once = clientFor(last.url, { retry: { attempts: 2, maxWaitSeconds: 5, onRetry } });
        assert.equal((await failure(once.get("/"))).status, 503);
        assert.equal(heard.length, 1); // not for the last refusal, which the call rejects with
      } finally {
        await last.close();
      }
    } finally {
      await server.close();
    }
  });

  test("off by default", async () => {
    const server = await flaky([503]);
    try {
      const error = await failure(clientFor(server.url).get("/"));
      assert.equal(error.status, 503);
      assert.equal(error.retryAfter, 1);
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  test("an idempotent request is sent again after Retry-After, with a new id", async () => {
    const server = await flaky([503]);
    try {
      const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } });
      assert.deepEqual(await api.get("/"), { ok: true });
      const [first, second] = server.requests;
      assert.equal(server.requests.length, 2);
      assert.ok(second.at - first.at >= 990, `retried after ${second.at - first.at} ms`);
      assert.deepEqual(
        server.requests.map((r) => r.headers["x-correlation-id"]),
        api.sentIds,
      );
      assert.notEqual(api.sentIds[0], api.sentIds[1]);
    } finally {
      await server.close();
    }
  });

  for (const method of ["PUT", "DELETE", "HEAD", "OPTIONS"]) {
    test(`${method} is retried too`, async () => {
      const server = await flaky([429], "0");
      try {
        await clientFor(server.url, { retry: { attempts: 2, maxWaitSeconds: 1 } }).request(
          method,
          "/",
        );
        assert.equal(server.requests.length, 2);
      } finally {
        await server.close();
      }
    });
  }

  test("PATCH is never retried", async () => {
    const server = await flaky([503], "0");
    try {
      const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } });
      assert.equal((await failure(api.patch("/", {}))).status, 503);
      assert.equal(server.requests.length, 1);
      assert.equal(server.requests[0].headers["idempotency-key"], undefined);
    } finally {
      await server.close();
    }
  });

  const keysOf = (server) => server.requests.map((r) => r.headers["idempotency-key"]);

  test("a POST has one Idempotency-Key per call, the same on each of its attempts", async () => {
    const server = await flaky([503], "0");
    try {
      const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } });
      assert.deepEqual(await api.post("/things/", { n: 1 }), { ok: true });
      assert.deepEqual(await api.post("/things/", { n: 1 }), { ok: true });
      const [first, retried, next] = keysOf(server);
      assert.equal(server.requests.length, 3);
      assert.match(first, UUID4);
      assert.equal(retried, first);
      assert.match(next, UUID4);
      assert.notEqual(next, first);
      assert.deepEqual(
        server.requests.map((r) => r.body),
        ['{"n":1}', '{"n":1}', '{"n":1}'],
      );
    } finally {
      await server.close();
    }
  });

  test("the caller's Idempotency-Key, whatever its case, is sent on every attempt", async () => {
    const server = await flaky([429], "0");
    try {
      const api = clientFor(server.url, { retry: { attempts: 2, maxWaitSeconds: 1 } });
      await api.post("/things/", {}, { headers: { "idempotency-KEY": "order-42" } });
      assert.deepEqual(keysOf(server), ["order-42", "order-42"]);
    } finally {
      await server.close();
    }
  });

  test("without a policy a POST has no Idempotency-Key and is not retried", async () => {
    const server = await flaky([503, 503], "0");
    try {
      assert.equal((await failure(clientFor(server.url).post("/things/", {}))).status, 503);
      const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } });
      assert.equal((await failure(api.post("/things/", {}, { retry: null }))).status, 503);
      assert.deepEqual(keysOf(server), [undefined, undefined]);
    } finally {
      await server.close();
    }
  });

  test("409 idempotency_in_progress is sent again after its Retry-After, same key", async () => {
    const server = await flaky([[409, "idempotency_in_progress"]], "1");
    try {
      const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } });
      assert.deepEqual(await api.post("/things/", {}), { ok: true });
      const [first, second] = server.requests;
      assert.equal(server.requests.length, 2);
      assert.ok(second.at - first.at >= 990, `retried after ${second.at - first.at} ms`);
      assert.equal(second.headers["idempotency-key"], first.headers["idempotency-key"]);
    } finally {
      await server.close();
    }
  });

  const REFUSALS = [
    ["POST", 422, "idempotency_key_reused"],
    ["POST", 400, "idempotency_key_invalid"],
    ["POST", 409, "conflict"],
    ["PUT", 409, "idempotency_in_progress"], // only a POST's key can be in progress
    ["PUT", 412, "precondition_failed"],
    ["DELETE", 428, "precondition_required"],
  ];
  for (const [method, status, code] of REFUSALS) {
    test(`${method} answered ${status} ${code} is not retried`, async () => {
      const server = await flaky([[status, code]], "0");
      try {
        const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } });
        const error = await failure(api.request(method, "/things/1/", { body: {} }));
        assert.equal(error.code, code);
        assert.equal(error.status, status);
        assert.equal(server.requests.length, 1);
      } finally {
        await server.close();
      }
    });
  }

  test("bounded by the number of attempts", async () => {
    const server = await flaky([503, 503, 503, 503], "0");
    try {
      const error = await failure(
        clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } }).get("/"),
      );
      assert.equal(error.status, 503);
      assert.equal(server.requests.length, 3);
    } finally {
      await server.close();
    }
  });

  test("bounded by the total wait: a retry that would wait too long is not made", async () => {
    const server = await flaky([429, 429, 429], "1");
    try {
      const started = Date.now();
      const api = clientFor(server.url, { retry: { attempts: 5, maxWaitSeconds: 1.5 } });
      const error = await failure(api.get("/"));
      assert.equal(error.status, 429);
      assert.equal(server.requests.length, 2); // waited 1 s once; a second second would pass 1.5
      assert.ok(Date.now() - started < 1900);
    } finally {
      await server.close();
    }
  });

  test("a request's own policy wins over the client's", async () => {
    const server = await flaky([503], "0");
    try {
      const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } });
      await failure(api.get("/", { retry: null }));
      assert.equal(server.requests.length, 1);
      assert.deepEqual(
        await clientFor(server.url).get("/", { retry: { attempts: 2, maxWaitSeconds: 1 } }),
        { ok: true },
      );
    } finally {
      await server.close();
    }
  });

  test("aborting while waiting to retry stops at once", async () => {
    const server = await flaky([503, 503], "30");
    try {
      const controller = new AbortController();
      const api = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 60 } });
      const pending = api.get("/", { signal: controller.signal });
      setTimeout(() => controller.abort(new Error("stop")), 100);
      await assert.rejects(pending, { message: "stop" });
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });
});

describe("ETags sent back as If-Match", () => {
  const precondition = (current) => ({
    error: {
      code: "precondition_failed",
      message: "Changed meanwhile",
      correlation_id: "c",
      details: { current_etag: current },
    },
  });

  /**
   * Versioned resources as the service has them: ETag "<version>" on GET, PUT and PATCH, and on a
   * POST's 201 with the new resource's Location (`absolute`: a full URL); If-Match checked (a 412
   * with the current ETag); DELETE 204. Any other path is a resource at version 1.
   */
  async function versioned({ absolute = false } = {}) {
    const versions = new Map();
    let created = 0;
    const server = await localServer((request, response) => {
      const path = request.url.replace(/\?.*$/, "");
      const send = (status, headers = {}, payload = undefined) => {
        response.writeHead(status, { "Content-Type": "application/json", ...headers });
        response.end(payload === undefined ? "" : JSON.stringify(payload));
      };
      if (request.method === "POST") {
        created += 1;
        const at = `${path}${created}/`;
        versions.set(at, 1);
        return send(201, { ETag: '"1"', Location: absolute ? server.url + at : at }, {});
      }
      if (!versions.has(path)) versions.set(path, 1);
      const current = `"${versions.get(path)}"`;
      const ifMatch = request.headers["if-match"];
      if (request.method !== "GET" && ifMatch && ifMatch !== "*" && ifMatch !== current) {
        return send(412, { ETag: current }, precondition(current));
      }
      if (request.method === "GET") return send(200, { ETag: current }, {});
      if (request.method === "DELETE") {
        versions.delete(path);
        return send(204);
      }
      versions.set(path, versions.get(path) + 1);
      return send(200, { ETag: `"${versions.get(path)}"` }, {});
    });
    return server;
  }

  /** A server answering every request 200 with `headers`. */
  const answering = (headers) =>
    localServer((request, response) => {
      response.writeHead(200, { "Content-Type": "application/json", ...headers });
      response.end("{}");
    });

  const ifMatchOf = (server) => server.requests.map((r) => r.headers["if-match"]);

  test("the ETag last seen: from a GET, then each PUT's and PATCH's answer", async () => {
    const server = await versioned();
    try {
      const api = clientFor(server.url);
      assert.equal(api.etagFor("/things/7/"), null);
      await api.get("/things/7/", { query: { expand: 1 } });
      assert.equal(api.etagFor("/things/7/"), '"1"');
      assert.equal(api.etagFor("/things/7/?other=2"), '"1"');
      await api.put("/things/7/", { a: 1 });
      assert.equal(api.etagFor("/things/7/"), '"2"');
      await api.patch("/things/7/", { a: 2 });
      await api.delete("/things/7/");
      assert.deepEqual(ifMatchOf(server), [undefined, '"1"', '"2"', '"3"']);
      assert.equal(api.etagFor("/things/7/"), null);
    } finally {
      await server.close();
    }
  });

  for (const [absolute, location] of [
    [false, "a path"],
    [true, "a URL"],
  ]) {
    test(`a 201's ETag is that of the resource its Location names (${location})`, async () => {
      const server = await versioned({ absolute });
      try {
        const api = clientFor(server.url, { retry: { attempts: 2, maxWaitSeconds: 1 } });
        await api.post("/things/", { a: 1 });
        assert.equal(api.etagFor("/things/1/"), '"1"');
        assert.equal(api.etagFor("/things/"), null);
        await api.patch("/things/1/", { a: 2 });
        assert.deepEqual(ifMatchOf(server), [undefined, '"1"']);
      } finally {
        await server.close();
      }
    });
  }

  test("etagFor takes the path as requests do, after the client's baseUrl", async () => {
    const server = await versioned();
    try {
      const api = clientFor(`${server.url}/v1`);
      await api.get("/things/1/");
      assert.equal(api.etagFor("/things/1/"), '"1"');
      assert.equal(api.etagFor("/v1/things/1/"), null);
      assert.equal(api.etagFor("/things/2/"), null);
      assert.equal(server.requests[0].url, "/v1/things/1/");
    } finally {
      await server.close();
    }
  });

  test("a 412: currentEtag, the ETag kept; ifMatch: currentEtag overwrites", async () => {
    const server = await versioned();
    try {
      const mine = clientFor(server.url, { retry: { attempts: 3, maxWaitSeconds: 5 } });
      const theirs = clientFor(server.url);
      await mine.get("/things/1/");
      await theirs.get("/things/1/");
      await theirs.put("/things/1/", { by: "them" });
      const error = await failure(mine.put("/things/1/", { by: "me" }));
      assert.equal(error.status, 412);
      assert.equal(error.code, "precondition_failed");
      assert.equal(error.currentEtag, '"2"');
      assert.equal(mine.etagFor("/things/1/"), '"1"');
      assert.equal(server.requests.length, 4); // not retried
      // The person chose to overwrite.
      await mine.put("/things/1/", { by: "me" }, { ifMatch: error.currentEtag });
      assert.equal(server.requests[4].headers["if-match"], '"2"');
      assert.equal(mine.etagFor("/things/1/"), '"3"');
    } finally {
      await server.close();
    }
  });

  test("an If-Match header, whatever its case, wins; ifMatch: false sends none", async () => {
    const server = await answering({ ETag: '"1"' });
    try {
      const api = clientFor(server.url, { headers: { "If-match": '"client"' } });
      await api.get("/things/1/");
      await api.put("/things/1/", {});
      await api.put("/things/1/", {}, { headers: { "IF-MATCH": "*" }, ifMatch: '"option"' });
      const plain = clientFor(server.url);
      await plain.get("/things/1/");
      await plain.delete("/things/1/", { ifMatch: false });
      await plain.get("/things/1/");
      await plain.patch("/things/1/", {}, { ifMatch: '"option"' });
      await plain.put("/things/1/", {});
      assert.deepEqual(ifMatchOf(server), [
        '"client"', // the client's headers go with every request, GET too
        '"client"',
        "*",
        undefined,
        undefined,
        undefined,
        '"option"',
        '"1"',
      ]);
    } finally {
      await server.close();
    }
  });

  test("only PUT, PATCH and DELETE send it; POST and GET do not", async () => {
    const server = await answering({ ETag: '"1"' });
    try {
      const api = clientFor(server.url);
      await api.get("/things/1/");
      await api.get("/things/1/");
      await api.post("/things/1/", {});
      await api.request("HEAD", "/things/1/");
      await api.delete("/things/1/");
      assert.deepEqual(ifMatchOf(server), [undefined, undefined, undefined, undefined, '"1"']);
    } finally {
      await server.close();
    }
  });

  test("DELETE forgets the ETag once it succeeded, not when it failed", async () => {
    const server = await versioned();
    try {
      const mine = clientFor(server.url);
      const theirs = clientFor(server.url);
      await mine.get("/things/1/");
      await theirs.get("/things/1/");
      await theirs.patch("/things/1/", {});
      assert.equal((await failure(mine.delete("/things/1/"))).currentEtag, '"2"');
      assert.equal(mine.etagFor("/things/1/"), '"1"');
      await mine.get("/things/1/");
      await mine.delete("/things/1/");
      assert.equal(mine.etagFor("/things/1/"), null);
      await mine.put("/things/1/", {});
      assert.equal(server.requests.at(-1).headers["if-match"], undefined);
    } finally {
      await server.close();
    }
  });

  test("an answer with a weak ETag or none leaves nothing to send", async () => {
    let etag = '"1"';
    const server = await localServer((request, response) => {
      response.writeHead(200, etag ? { ETag: etag } : {});
      response.end();
    });
    try {
      const api = clientFor(server.url);
      await api.get("/things/1/");
      etag = null;
      await api.put("/things/1/", {}); // changed it, said no ETag: "1" is out of date
      await api.put("/things/1/", {});
      etag = '"2"';
      await api.get("/things/1/");
      etag = 'W/"3"'; // If-Match compares strongly: a weak ETag never matches
      await api.get("/things/1/");
      assert.equal(api.etagFor("/things/1/"), null);
      await api.put("/things/1/", {});
      assert.deepEqual(ifMatchOf(server), [
        undefined,
        '"1"',
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
    } finally {
      await server.close();
    }
  });

  test("at most 500 resources are remembered: the longest unchanged is dropped", async () => {
    const api = new ApiClient("http://api.test", {
      fetch: async () => new Response("{}", { status: 200, headers: { ETag: '"1"' } }),
    });
    for (let i = 0; i < 500; i += 1) await api.get(`/things/${i}/`);
    await api.get("/things/0/"); // written again: now the newest
    await api.get("/things/500/");
    assert.equal(api.etagFor("/things/0/"), '"1"');
    assert.equal(api.etagFor("/things/1/"), null);
    assert.equal(api.etagFor("/things/2/"), '"1"');
    assert.equal(api.etagFor("/things/500/"), '"1"');
    for (let i = 501; i < 1000; i += 1) await api.get(`/things/${i}/`);
    const kept = Array.from({ length: 1000 }, (_, i) => api.etagFor(`/things/${i}/`)).filter(
      Boolean,
    );
    assert.equal(kept.length, 500);
  });
});

describe("ApiError.from", () => {
  const respond = (status, body, headers = {}) =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers });

  test("problem details without a code: type's last segment; extensions as details", async () => {
    const error = await ApiError.from(
      respond(
        409,
        {
          type: "https://example.com/probs/out-of-credit/",
          title: "Out of credit",
          status: 409,
          balance: 30,
          errors: { amount: "Too much" },
        },
        { "Content-Type": "application/problem+json" },
      ),
      "sent-id",
    );
    assert.equal(error.code, "out-of-credit");
    assert.equal(error.message, "Out of credit");
    assert.equal(error.correlationId, "sent-id");
    assert.deepEqual(error.details, { balance: 30, field_errors: { amount: "Too much" } });
    assert.deepEqual(error.fieldErrors, { amount: ["Too much"] });
  });

  test("about:blank problems are http_error", async () => {
    const error = await ApiError.from(
      respond(
        404,
        { type: "about:blank", title: "Not Found" },
        { "Content-Type": "application/problem+json" },
      ),
    );
    assert.equal(error.code, "http_error");
    assert.equal(error.message, "Not Found");
    assert.equal(error.correlationId, null);
  });

  test("Retry-After as an HTTP date, and details.retry_after without the header", async () => {
    const inTwoSeconds = new Date(Date.now() + 2000).toUTCString();
    const dated = await ApiError.from(respond(503, "", { "Retry-After": inTwoSeconds }));
    assert.ok(dated.retryAfter >= 1 && dated.retryAfter <= 2, dated.retryAfter);
    const envelope = {
      error: {
        code: "rate_limit_exceeded",
        message: "Slow down",
        correlation_id: "c",
        details: { retry_after: 9 },
      },
    };
    const fromDetails = await ApiError.from(
      respond(429, envelope, { "Content-Type": "application/json" }),
    );
    assert.equal(fromDetails.retryAfter, 9);
    const junk = await ApiError.from(respond(503, "", { "Retry-After": "soon" }));
    assert.equal(junk.retryAfter, null);
  });

  test("a 412's currentEtag: the ETag header, else details.current_etag, else null", async () => {
    const json = { "Content-Type": "application/json" };
    const envelope = (details) => ({
      error: { code: "precondition_failed", message: "Changed", correlation_id: "c", details },
    });
    const both = await ApiError.from(
      respond(412, envelope({ current_etag: '"from-details"' }), { ...json, ETag: '"4"' }),
    );
    assert.equal(both.currentEtag, '"4"');
    const details = await ApiError.from(respond(412, envelope({ current_etag: '"4"' }), json));
    assert.equal(details.currentEtag, '"4"');
    const problem = await ApiError.from(
      respond(
        412,
        { type: "about:blank", title: "Changed", code: "precondition_failed", current_etag: '"5"' },
        { "Content-Type": "application/problem+json" },
      ),
    );
    assert.equal(problem.currentEtag, '"5"');
    assert.equal((await ApiError.from(respond(412, envelope({}), json))).currentEtag, null);
    const conflict = await ApiError.from(
      respond(409, envelope({ current_etag: '"4"' }), { ...json, ETag: '"4"' }),
    );
    assert.equal(conflict.currentEtag, null);
  });

  test("the response header's id when the body has none", async () => {
    const error = await ApiError.from(
      respond(502, "<html></html>", {
        "Content-Type": "text/html",
        "X-Correlation-ID": "from-header",
      }),
      "sent",
    );
    assert.equal(error.correlationId, "from-header");
  });
});
