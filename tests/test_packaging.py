"""`pip install .` builds a distribution that installs the `errors` package, and only it.

The wheel is built from a copy of the repository, installed into a temporary directory, and used
by the small separate Django project in tests/standalone (only `errors` and DRF, with the three
setup lines from the README), run in a subprocess that cannot see the repository.

How the wheel is built: `pip wheel --no-deps` *with* build isolation, i.e. exactly what
`pip install .` does. Build isolation installs the build requirements that pyproject.toml
declares (setuptools, wheel) into a throwaway environment, from the configured index; the venv's
own setuptools is not used, so the test checks the declared build system rather than whatever
happens to be installed (the venv does not even have `wheel`). pip builds a local directory in
place, leaving build/ and *.egg-info next to pyproject.toml, so the build runs on a copy of the
repository in tmp: the repository is never written to. The copy holds the whole tree (cortex/,
tests/, ...), not only errors/, so the assertion that nothing but `errors` is packaged really
tests the package selection in pyproject.toml.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
STANDALONE = Path(__file__).resolve().parent / "standalone"
DISTRIBUTION = "django-cortex-errors"
OTHER_TOP_LEVEL = ("cortex", "workspaces", "tests", "bench")

# Not copied from the repository root: caches, virtualenvs, build output, local databases.
_ROOT_SKIP_SUFFIXES = (".egg-info", ".sqlite3")
_ROOT_SKIP_NAMES = {"build", "dist", "staticfiles", "node_modules"}


def _ignore(directory: str, names: list[str]) -> Iterable[str]:
    skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
    if Path(directory) == REPO_ROOT:
        skipped |= {
            n
            for n in names
            if n.startswith(".") or n in _ROOT_SKIP_NAMES or n.endswith(_ROOT_SKIP_SUFFIXES)
        }
    return skipped


def _run(args: list[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
    )
    return result


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PIP_TARGET"}}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository to build from (pip writes build/ and *.egg-info into it)."""
    assert (REPO_ROOT / "README.md").is_file(), (
        "README.md is missing: pyproject.toml names it as the readme, so the build needs it"
    )
    dest = tmp_path_factory.mktemp("source") / "repo"
    shutil.copytree(REPO_ROOT, dest, ignore=_ignore)
    return dest


@pytest.fixture(scope="module")
def wheel(source_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install .` would build and install."""
    out = tmp_path_factory.mktemp("dist")
    # An absolute path: a bare name would be taken for a project on the index.
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(source_copy)],
        timeout=240,
        env=_pip_env(),
    )
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel, got {wheels}"
    return wheels[0]


@pytest.fixture(scope="module")
def site_dir(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed on its own (its dependencies come from the venv)."""
    site = tmp_path_factory.mktemp("site")
    _run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        timeout=120,
        env=_pip_env(),
    )
    return site.resolve()


@pytest.fixture(scope="module")
def summary(site_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What tests/standalone/smoke.py saw, run from a copy outside the repository."""
    project = tmp_path_factory.mktemp("standalone") / "project"
    shutil.copytree(STANDALONE, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DJANGO_", "ERRORS_"))
    }
    env.update(
        PYTHONPATH=str(site_dir),
        DJANGO_SETTINGS_MODULE="standalone_settings",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
    )
    result = _run([sys.executable, "smoke.py"], timeout=120, cwd=project, env=env)
    lines = result.stdout.strip().splitlines()
    assert lines, f"smoke.py printed nothing; stderr:\n{result.stderr[-4000:]}"
    data: dict[str, Any] = json.loads(lines[-1])
    data["stderr"] = result.stderr
    return data


def _body(response: dict[str, Any]) -> dict[str, Any]:
    assert response["content_type"] == "application/json", response
    body: dict[str, Any] = json.loads(response["body"])
    return body


def test_wheel_contains_errors_and_nothing_else(wheel: Path, source_copy: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = archive.read(metadata).decode()

    top_level = {name.split("/", 1)[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"errors"}, sorted(names)
    assert not [n for n in names if n.split("/", 1)[0] in OTHER_TOP_LEVEL]

    expected = {
        path.relative_to(source_copy).as_posix()
        for path in (source_copy / "errors").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert {"errors/__init__.py", "errors/middleware.py", "errors/handler.py"} <= expected
    assert expected <= set(names), f"missing from the wheel: {sorted(expected - set(names))}"

    assert f"Name: {DISTRIBUTION}" in meta
    requires = {
        re.split(r"[^\w.-]", line.removeprefix("Requires-Dist:").strip(), maxsplit=1)[0].lower()
        for line in meta.splitlines()
        if line.startswith("Requires-Dist:")
    }
    assert {"django", "djangorestframework", "orjson"} <= requires, meta


def test_standalone_project_uses_the_installed_wheel(
    summary: dict[str, Any], site_dir: Path
) -> None:
    errors_file = Path(summary["errors_file"]).resolve()
    assert errors_file.is_relative_to(site_dir), errors_file
    assert str(REPO_ROOT) not in summary["sys_path"]
    for name, origin in summary["other_packages"].items():
        assert origin is None or not Path(origin).resolve().is_relative_to(REPO_ROOT), (
            f"{name} was importable from the repository: {origin}"
        )


def test_standalone_project_passes_checks(summary: dict[str, Any]) -> None:
    result = summary["checks"]
    assert result["failure"] is None, result["failure"]
    assert not [m for m in result["messages"] if m["serious"]], result["messages"]


def test_drf_not_found_exception_gets_the_envelope(summary: dict[str, Any]) -> None:
    response = summary["responses"]["widget"]
    sent = summary["sent_correlation_id"]
    assert response["status"] == 404, response
    assert response["correlation_id"] == sent
    assert _body(response) == {
        "error": {
            "code": "not_found",
            "message": "Widget not found",
            "correlation_id": sent,
            "details": {"resource_type": "widget", "resource_id": "7"},
        }
    }


def test_unmatched_url_gets_the_envelope(summary: dict[str, Any]) -> None:
    response = summary["responses"]["no_route"]
    assert response["status"] == 404, response
    error = _body(response)["error"]
    assert error["code"] == "not_found"
    assert error["correlation_id"] == response["correlation_id"]
    assert error["correlation_id"]


def test_unexpected_exception_is_a_500_without_its_text(summary: dict[str, Any]) -> None:
    response = summary["responses"]["crash"]
    assert response["status"] == 500, response
    assert "secret" not in response["body"]
    error = _body(response)["error"]
    assert error["code"] == "internal_error"
    assert error["correlation_id"] == response["correlation_id"]
    assert "debug_info" not in error


def test_standalone_settings_are_the_readme_setup() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    settings = (STANDALONE / "standalone_settings.py").read_text(encoding="utf-8")
    for line in (
        '"errors"',
        '"errors.handler.exception_handler"',
        '"errors.middleware.CorrelationIdMiddleware"',
    ):
        assert line in readme, f"README.md no longer shows {line}"
        assert line in settings
