"""Schemathesis against the running service's own OpenAPI schema.

A real daphne process serves the API on a fresh database of the kind the suite runs on: with
`DATABASE_URL=postgres://…` (CI's first pass) a database of its own on that server, created for
the run and dropped after it; otherwise a fresh SQLite file. The schema is loaded from its
`/api/schema/` and every operation gets `FUZZ_MAX_EXAMPLES` generated requests (positive: valid
by the schema, and negative: invalid by it), derandomized so a CI run is reproducible. Every
response must:

- not be a 5xx (`not_a_server_error`);
- conform to the documented schema: a documented status code and content type, and a body that
  validates against that response's schema;
- carry `X-Correlation-ID`, and, when it is a 4xx/5xx, have the error envelope as its body;
- refuse data the schema forbids (`negative_data_rejection`: a number for a string is a 400)
  and take data it allows (`positive_data_acceptance`);
- and the same request without valid credentials must be refused (`ignored_auth`).

Failures are collected over all operations and reported together, each with the request (as a
curl command) and the server's log lines for it (found by the correlation id the request sent).
`make fuzz` runs this with many more examples (`FUZZ_MAX_EXAMPLES=500`).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from tests.support.accounts import make_accounts
from tests.support.servers import DaphneServer

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

ROOT = Path(__file__).resolve().parents[1]
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
# Not JSON APIs: Swagger UI's HTML and the Prometheus text format.
EXCLUDED_PATHS = frozenset({"/api/docs/", "/metrics"})
# Revokes the token every other request authenticates with: fuzzed after all the others.
LAST_PATHS = frozenset({"/api/auth/logout/"})
REQUEST_TIMEOUT = 10.0
UNLIMITED = "100000000/minute"
# The schema's security parameters: the token header and the session cookie.
CREDENTIALS = frozenset({"Authorization", "sessionid"})
# Optional inputs that no value makes invalid: credentials (well-formed whatever they hold),
# Accept-Language (a language the service does not speak gets English) and the conditional
# headers (a tag that names no version of the resource simply does not match).
ALWAYS_VALID = CREDENTIALS | {"Accept-Language", "If-Match", "If-None-Match"}
# Refusals by the server's state, as a 409 is: a stale If-Match (checked before the body is
# read, so it answers invalid data too) and an Idempotency-Key sent before with another body.
STATE_REFUSALS = {412: "precondition_failed", 422: "idempotency_key_reused"}


def envelope_and_correlation_id(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every response has X-Correlation-ID; every 4xx/5xx body is the error envelope."""
    headers = {name.lower(): values for name, values in response.headers.items()}
    STATUSES[f"{case.operation.label} {response.status_code}"] += 1
    assert headers.get("x-correlation-id"), "no X-Correlation-ID header"
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} body is not JSON: {exc}") from None
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), (
        f"{response.status_code} body is not the error envelope"
    )
    error = body["error"]
    for key in ("code", "message", "correlation_id"):
        assert isinstance(error.get(key), str) and error[key], f"error.{key} is not a string"
    return None


def _contains_nul(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            stack.extend([*item.keys(), *item.values()])
        elif isinstance(item, list):
            stack.extend(item)
    return False


def storable_data_acceptance(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """`positive_data_acceptance`, but for bodies with a NUL character in a string or a key, and
    for the refusals of `STATE_REFUSALS`.

    PostgreSQL stores no NUL, so the API refuses it everywhere (400 with the field's path).
    OpenAPI 3.0 could say so for a string field (`pattern`) but not for the keys of an object
    (it has no `propertyNames`); Schemathesis still sends NUL in every mode, for the other
    checks. The operations of `ACCEPTANCE_PENDING` are left out until their schema is fixed.
    """
    if _contains_nul(case.body) or case.operation.label in ACCEPTANCE_PENDING:
        return None
    if STATE_REFUSALS.get(response.status_code) == _error_code(response):
        return None
    return positive_data_acceptance(ctx, response, case)


def refused_data_rejection(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """`negative_data_rejection`, where a refusal by the server's state counts as a rejection."""
    if STATE_REFUSALS.get(response.status_code) == _error_code(response):
        return None
    return negative_data_rejection(ctx, response, case)


def _error_code(response: Response) -> str | None:
    try:
        return str(json.loads(response.content)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


# Operations whose schema still allows what the view refuses, and why (remove once fixed).
ACCEPTANCE_PENDING = {
    # CredentialsInput's fields refuse blank values, but the schema has no `minLength: 1`
    # (drf-spectacular adds it with ENFORCE_NON_BLANK_FIELDS, or `min_length=1` on the fields).
    "POST /api/auth/token/": "accounts: blank username/password",
}


# How often each operation answered with each status, for the summary.
STATUSES: Counter[str] = Counter()
CHECKS: list[Callable[..., bool | None]] = [
    not_a_server_error,
    refused_data_rejection,
    storable_data_acceptance,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
    unsupported_method,
    envelope_and_correlation_id,
]


@dataclass
class Server:
    daphne: DaphneServer
    token: str
    database: str  # "sqlite" or "postgres", for the summary

    @property
    def url(self) -> str:
        return self.daphne.url


@dataclass
class Failure:
    operation: str
    mode: str
    error: str
    curl: str
    correlation_id: str
    log_lines: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        logs = "\n".join(f"    {line}" for line in self.log_lines) or "    (none)"
        return (
            f"{self.operation} [{self.mode}]\n  request: {self.curl}\n"
            f"  correlation id: {self.correlation_id}\n  {self.error.strip()}\n"
            f"  server log:\n{logs}"
        )


@contextmanager
def fuzz_database(tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database like the suite's own: PostgreSQL or SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    # A database of its own beside the suite's (which it must not fill with generated rows).
    name = f"{parts.path.lstrip('/') or 'postgres'}_fuzz"
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(drop)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(drop)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fuzz_database(tmp_path_factory.mktemp("fuzz")) as database_url:
        env = {
            "DATABASE_URL": database_url,
            "USER_THROTTLE_RATE": UNLIMITED,
            "LOGIN_THROTTLE_RATE": UNLIMITED,
        }
        token = make_accounts(database_url, ("fuzz",)).accounts["fuzz"]["token"]
        with DaphneServer(env=env) as daphne:
            yield Server(daphne, token, database_url.split(":", 1)[0])


def _cookieless_session() -> requests.Session:
    """A session that keeps no cookies: each request authenticates by its token alone."""
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def _create_workspace(server: Server) -> str:
    response = requests.post(
        f"{server.url}/api/workspaces/",
        json={"name": "fuzz target", "metadata": {"k": "v"}},
        headers={"Authorization": f"Token {server.token}"},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _log_lines_for(daphne: DaphneServer, correlation_id: str) -> list[str]:
    needle = f'"correlation_id":"{correlation_id}"'
    return [line for line in daphne.stderr_lines() if needle in line][:5]


@dataclass
class Run:
    server: Server
    session: requests.Session = field(default_factory=lambda: _cookieless_session())
    ids: Iterator[int] = field(default_factory=lambda: count(1))
    cases: int = 0
    failures: list[Failure] = field(default_factory=list)

    def fuzz(
        self,
        operation: APIOperation,
        mode: GenerationMode,
        path_parameters: dict[str, str] | None = None,
    ) -> None:
        """`MAX_EXAMPLES` generated requests to `operation`; keeps up to 3 failures."""
        seen: list[Failure] = []
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            # No shrinking: each failure is reported as generated, with its own log lines.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Case) -> None:
            self.cases += 1
            correlation_id = f"fuzz-{next(self.ids)}"
            headers = {
                "Authorization": f"Token {self.server.token}",
                "X-Correlation-ID": correlation_id,
            }
            try:
                case.call_and_validate(
                    session=self.session, headers=headers, checks=CHECKS, timeout=REQUEST_TIMEOUT
                )
            except (Exception, BaseExceptionGroup) as exc:  # all reported together at the end
                seen.append(
                    Failure(
                        operation=operation.label,
                        mode=mode.value + (" (existing workspace)" if path_parameters else ""),
                        error=str(exc),
                        curl=case.as_curl_command(headers=headers),
                        correlation_id=correlation_id,
                    )
                )

        run()
        self.failures.extend(seen[:3])  # a few per operation and mode are enough to act on


def modes_for(operation: APIOperation) -> tuple[GenerationMode, ...]:
    """Both modes, except for an operation whose only inputs are optional ones no value makes
    invalid (POST /api/events/tickets/: a token header or a session cookie, and Accept-Language):
    no request to it is invalid, and Hypothesis finds no negative case to make."""
    inputs = [p for p in operation.iter_parameters() if p.is_required or p.name not in ALWAYS_VALID]
    if len(operation.body) or inputs:
        return (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return (GenerationMode.POSITIVE,)


def test_every_operation_answers_by_its_schema(server: Server) -> None:
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(
        f"{server.url}/api/schema/?format=json", timeout=REQUEST_TIMEOUT
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path not in EXCLUDED_PATHS]
    assert operations, "the schema has no operations"
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

    run = Run(server)
    for operation in operations:
        if operation.path in LAST_PATHS:
            continue
        for mode in modes_for(operation):
            run.fuzz(operation, mode)
    # Random ids only ever find nothing (404): the operations on one workspace get more passes
    # on one that exists, DELETE last, so that their 200/204 answers are checked too.
    workspace_id = _create_workspace(server)
    on_one = sorted(
        (op for op in operations if "{workspace_id}" in op.path),
        key=lambda op: op.method.upper() == "DELETE",
    )
    for operation in on_one:
        for mode in modes:
            # With the id fixed, an operation without a body has nothing left to make invalid.
            if mode is GenerationMode.POSITIVE or operation.method.upper() in {"PUT", "PATCH"}:
                run.fuzz(operation, mode, {"workspace_id": workspace_id})
    for operation in operations:
        if operation.path in LAST_PATHS:
            for mode in modes_for(operation):
                run.fuzz(operation, mode)
    failures, cases_run = run.failures, run.cases

    # The server's log lines for a request are written as it answers; read them at the end.
    for failure in failures:
        failure.log_lines = _log_lines_for(server.daphne, failure.correlation_id)
    elapsed = time.monotonic() - started
    summary = (
        f"{cases_run} cases over {len(operations)} operations on {server.database} in "
        f"{elapsed:.1f} s (FUZZ_MAX_EXAMPLES={MAX_EXAMPLES})"
    )
    print(summary)
    print("\n".join(f"  {key}: {n}" for key, n in sorted(STATUSES.items())))
    assert server.daphne.running, f"the server died\n{server.daphne.output()}"
    assert not failures, f"{len(failures)} failing requests; {summary}\n\n" + "\n\n".join(
        str(f) for f in failures
    )
