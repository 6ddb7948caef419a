"""What a stranger installs and runs: the wheel, fresh virtualenvs, a migrated copy of the project.

The wheel is built by `pip wheel --no-deps` with build isolation, i.e. exactly what `pip install .`
does: the build requirements pyproject.toml declares are installed into a throwaway environment,
so the declared build system is what is tested. pip builds a local directory in place (build/,
*.egg-info), so the build runs on a copy of the repository in tmp; the copy holds the whole tree
(cortex/, tests/, ...), so that "only `errors` is packaged" really tests pyproject.toml.

Virtualenvs are made by `python -m venv` of the interpreter running the tests (no system site
packages) and get every package at the version installed where the tests run, through a
constraints file built at run time: a consumer venv has the Python, Django and DRF of the
environment under test (`make venv`'s pins, or one cell of the support matrix), and installs come
from pip's cache after the first run.

Every command runs with `run`, which fails the test (never skips it) when the command fails.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_SOURCE = Path(__file__).resolve().parent / "project"
DISTRIBUTION = "django-cortex-errors"

# Not copied from the repository root: caches, virtualenvs, build output, local databases.
_ROOT_SKIP_SUFFIXES = (".egg-info", ".sqlite3")
_ROOT_SKIP_NAMES = {"build", "dist", "staticfiles", "node_modules"}

# Installed into every venv by `python -m venv` itself, so not pinned by the requirements files.
_VENV_OWN = frozenset({"pip", "setuptools", "wheel"})

# Variables of the test run that must not reach a consumer process: it has its own settings,
# database and import path. Everything else (PATH, HOME, pip's configuration) is kept.
_DROPPED_ENV = frozenset({"DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV", "PIP_TARGET", "PIP_PREFIX"})
_DROPPED_ENV_PREFIXES = (
    "PYTHON", "DJANGO_", "ERRORS_", "PYTEST_", "PROMETHEUS_", "SENTRY_", "CONSUMER_",
)  # fmt: skip


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; with `check`, fail the test with its output unless it exits with 0."""
    command = [os.fspath(a) for a in args]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=dict(env) if env is not None else clean_environment(),
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited with {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return result


def clean_environment() -> dict[str, str]:
    """The test run's environment without what belongs to the repository's own project."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV and not key.startswith(_DROPPED_ENV_PREFIXES)
    }


def _pip_environment() -> dict[str, str]:
    return {**clean_environment(), "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


# --- the wheel -----------------------------------------------------------------------------


def _ignore(directory: str, names: list[str]) -> Iterable[str]:
    skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
    if Path(directory) == REPO_ROOT:
        skipped |= {
            n
            for n in names
            if n.startswith(".") or n in _ROOT_SKIP_NAMES or n.endswith(_ROOT_SKIP_SUFFIXES)
        }
    return skipped


def copy_source(dest: Path) -> Path:
    """Copy the checkout to `dest` (which must not exist) and return it."""
    assert (REPO_ROOT / "README.md").is_file(), (
        "README.md is missing: pyproject.toml names it as the readme, so the build needs it"
    )
    shutil.copytree(REPO_ROOT, dest, ignore=_ignore)
    return dest


def build_wheel(source: Path, out: Path) -> Path:
    """The wheel `pip install <source>` would build and install, written to `out`."""
    # An absolute path: a bare name would be taken for a project on the index.
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, source.resolve()],
        timeout=240,
        env=_pip_environment(),
    )
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, f"expected one wheel, got {wheels}"
    return wheels[0]


@dataclass(frozen=True)
class Built:
    """A copy of the checkout and the wheel built from it."""

    source: Path
    wheel: Path


_built: dict[Path, Built] = {}


def session_wheel(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel, built once per test run however many modules ask for it."""
    key = tmp_path_factory.getbasetemp()
    if key not in _built:
        source = copy_source(tmp_path_factory.mktemp("source") / "repo")
        wheel = build_wheel(source, tmp_path_factory.mktemp("dist"))
        _built[key] = Built(source, wheel)
    return _built[key]


# --- pins and virtualenvs ------------------------------------------------------------------


def canonical_name(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def environment_versions() -> dict[str, str]:
    """`{canonical name: version}` of every distribution where the tests themselves run.

    Consumer venvs install under these as constraints, so they get the Django, DRF and servers
    of the environment under test: the pinned set of `make venv`, or one cell of the support
    matrix (noxfile.py).
    """
    return {
        canonical_name(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if canonical_name(dist.metadata["Name"]) not in _VENV_OWN
    }


def write_constraints(path: Path, pins: Mapping[str, str]) -> Path:
    """A pip constraints file pinning `pins` (constraints cannot name extras)."""
    path.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
    return path


@dataclass(frozen=True)
class Venv:
    """A virtualenv made by `python -m venv`."""

    root: Path
    site_packages: Path

    @property
    def python(self) -> Path:
        return self.bin("python")

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name

    def installed(self) -> dict[str, str]:
        """`{canonical name: version}` of every distribution in the venv."""
        result = run(
            [self.python, "-m", "pip", "list", "--format", "json"],
            timeout=60,
            env=_pip_environment(),
        )
        return {canonical_name(d["name"]): d["version"] for d in json.loads(result.stdout)}

    def config(self) -> dict[str, str]:
        """pyvenv.cfg as a dict."""
        lines = (self.root / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
        pairs = (line.partition("=") for line in lines if "=" in line)
        return {key.strip(): value.strip() for key, _, value in pairs}


def create_venv(root: Path, requirements: Sequence[str], constraints: Path) -> Venv:
    """A fresh venv at `root` with `requirements` installed under `constraints`."""
    run([sys.executable, "-m", "venv", root], timeout=120)
    python = root / "bin" / "python"
    run(
        [python, "-m", "pip", "install", "--quiet", "-c", constraints, *requirements],
        timeout=600,
        env=_pip_environment(),
    )
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], timeout=30)
    return Venv(root, Path(site.stdout.strip()).resolve())


# --- the consumer project ------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A copy of tests/consumer/project, run with one venv's interpreter."""

    root: Path
    venv: Venv
    with_drf: bool

    @property
    def env(self) -> dict[str, str]:
        """The environment of a shell where the venv is activated and the settings chosen."""
        env = clean_environment()
        env.update(
            VIRTUAL_ENV=str(self.venv.root),
            PATH=os.pathsep.join([str(self.venv.root / "bin"), env.get("PATH", os.defpath)]),
            DJANGO_SETTINGS_MODULE="project.settings",
            CONSUMER_WITH_DRF="1" if self.with_drf else "0",
            PYTHONUNBUFFERED="1",  # log lines reach the files as they are written
        )
        return env

    @property
    def database(self) -> Path:
        return self.root / "db.sqlite3"

    def manage(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`python manage.py <args>` in the project directory."""
        return run(
            [self.venv.python, "manage.py", *args],
            timeout=timeout,
            cwd=self.root,
            env=self.env,
            check=check,
        )

    def python(
        self, code: str, *, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`python -c <code>` in the project directory."""
        return run(
            [self.venv.python, "-c", code],
            timeout=timeout,
            cwd=self.root,
            env=self.env,
            check=check,
        )

    def probe(self, code: str) -> Any:
        """The JSON that `code` (run with `python -c`) prints on its last line."""
        lines = self.python(code).stdout.strip().splitlines()
        assert lines, f"{code!r} printed nothing"
        return json.loads(lines[-1])


def copy_project(dest: Path, venv: Venv, *, with_drf: bool) -> Project:
    """Copy the consumer project to `dest` (outside the repository) and migrate its database."""
    assert not dest.resolve().is_relative_to(REPO_ROOT), dest
    shutil.copytree(
        PROJECT_SOURCE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3")
    )
    project = Project(dest, venv, with_drf)
    project.manage("migrate", "--noinput", timeout=180)
    return project
