"""`pip install .` builds a distribution that installs the `errors` package, and only it.

The wheel is built from a copy of the repository exactly as `pip install .` builds it (see
tests/consumer/build.py); tests/test_consumer.py installs the same wheel into fresh virtualenvs
and serves a stranger's project with it.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
import zipfile
from email.message import Message
from email.parser import HeaderParser

import pytest
from packaging.requirements import Requirement

import errors
import noxfile
from tests.consumer.build import DISTRIBUTION, Built, clean_environment, run, session_wheel

pytestmark = pytest.mark.consumer

OTHER_TOP_LEVEL = ("cortex", "workspaces", "tests", "bench", "accounts", "eventstream", "console")
REQUIRED = {"django", "orjson", "prometheus-client"}
EXTRAS = {"drf", "openapi", "postgres", "http", "sentry", "otel", "celery"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return session_wheel(tmp_path_factory)


def _metadata(built: Built) -> Message:
    with zipfile.ZipFile(built.wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return HeaderParser().parsestr(archive.read(name).decode())


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
    # PEP 561: type checkers read the package's own annotations.
    assert "errors/py.typed" in names
    # The translations, compiled: a project needs no gettext to serve them.
    for language in ("de", "es", "fr"):
        for kind in ("po", "mo"):
            assert f"errors/locale/{language}/LC_MESSAGES/django.{kind}" in names


def test_wheel_requires_django_orjson_and_prometheus_client_with_drf_as_an_extra(
    built: Built,
) -> None:
    meta = _metadata(built)

    assert meta["Name"] == DISTRIBUTION
    assert meta["Version"] == errors.__version__
    requires = meta.get_all("Requires-Dist") or []
    unconditional = {_requirement_name(r) for r in requires if ";" not in r}
    assert unconditional == REQUIRED, requires
    assert set(meta.get_all("Provides-Extra") or []) == EXTRAS, meta.get_all("Provides-Extra")
    drf = {_requirement_name(r) for r in requires if re.search(r"""extra\s*==\s*["']drf["']""", r)}
    assert drf == {"djangorestframework"}, requires


def test_classifiers_and_ranges_are_the_support_matrix(built: Built) -> None:
    """What the metadata declares is what noxfile.py tests: every Python and Django, no more."""
    meta = _metadata(built)
    classifiers = set(meta.get_all("Classifier") or [])
    declared_pythons = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c)
    }
    declared_djangos = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Framework :: Django :: ")
    }
    assert declared_pythons == set(noxfile.PYTHONS)
    assert declared_djangos == set(noxfile.DJANGO)
    assert "Typing :: Typed" in classifiers
    assert {"Homepage", "Changelog"} <= {
        url.split(",", 1)[0] for url in meta.get_all("Project-URL") or []
    }

    requires = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    django = next(r for r in requires if r.name.lower() == "django")
    drf = next(r for r in requires if r.name == "djangorestframework" and r.marker)
    assert all(django.specifier.contains(v) for v in noxfile.DJANGO.values()), django
    assert all(drf.specifier.contains(v) for v in noxfile.DRF.values()), drf
    assert not django.specifier.contains("5.1.15") and not drf.specifier.contains("3.15.2")
    assert meta["Requires-Python"] == f">={min(noxfile.PYTHONS)}"


def test_installing_the_wheel_keeps_the_django_the_project_runs(built: Built) -> None:
    """`pip install django==<this one> "errors[drf]"` resolves in one command and moves nothing.

    pip's resolver answers from the package index without installing; on the 6.1 line this is
    the `pip install django==6.1.3 "<checkout>[drf]"` a Django 6.1 user types.
    """
    django = importlib.metadata.version("django")
    drf = importlib.metadata.version("djangorestframework")
    result = run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
         "--quiet", "--report", "-", f"django=={django}", f"djangorestframework=={drf}",
         f"{built.wheel}[drf]"],
        timeout=300,
        env={**clean_environment(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    chosen = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(result.stdout)["install"]
    }
    assert chosen["django"] == django, chosen
    assert chosen["djangorestframework"] == drf, chosen
    assert DISTRIBUTION in chosen, chosen
