"""`pip install .` builds a distribution that installs the `errors` package, and only it.

The wheel is built from a copy of the repository exactly as `pip install .` builds it (see
tests/consumer/build.py); tests/test_consumer.py installs the same wheel into fresh virtualenvs
and serves a stranger's project with it.
"""

from __future__ import annotations

import re
import zipfile
from email.parser import HeaderParser

import pytest

from tests.consumer.build import DISTRIBUTION, Built, session_wheel

pytestmark = pytest.mark.consumer

OTHER_TOP_LEVEL = ("cortex", "workspaces", "tests", "bench", "accounts", "eventstream", "console")
REQUIRED = {"django", "orjson", "prometheus-client"}
EXTRAS = {"drf", "openapi", "postgres", "http", "sentry", "otel", "celery"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return session_wheel(tmp_path_factory)


def _requirement_name(requirement: str) -> str:
    name = re.split(r"[^\w.-]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_wheel_contains_errors_and_nothing_else(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        names = archive.namelist()

    top_level = {name.split("/", 1)[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"errors"}, sorted(names)
    assert not [n for n in names if n.split("/", 1)[0] in OTHER_TOP_LEVEL]

    expected = {
        path.relative_to(built.source).as_posix()
        for path in (built.source / "errors").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert {"errors/__init__.py", "errors/middleware.py", "errors/handler.py"} <= expected
    assert expected <= set(names), f"missing from the wheel: {sorted(expected - set(names))}"
    # The JavaScript client, for `collectstatic` or the finders of the project that installs it.
    assert {"errors/static/errors/client.js", "errors/static/errors/client.d.ts"} <= set(names)


def test_wheel_requires_django_orjson_and_prometheus_client_with_drf_as_an_extra(
    built: Built,
) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = HeaderParser().parsestr(archive.read(metadata).decode())

    assert meta["Name"] == DISTRIBUTION
    requires = meta.get_all("Requires-Dist") or []
    unconditional = {_requirement_name(r) for r in requires if ";" not in r}
    assert unconditional == REQUIRED, requires
    assert set(meta.get_all("Provides-Extra") or []) == EXTRAS, meta.get_all("Provides-Extra")
    drf = {_requirement_name(r) for r in requires if re.search(r"""extra\s*==\s*["']drf["']""", r)}
    assert drf == {"djangorestframework"}, requires
