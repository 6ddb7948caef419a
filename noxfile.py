"""The support matrix of the `errors` app.

`nox` runs every cell, `nox -s "matrix(3.12-django6.0-drf3.17)"` one, `nox -l` lists them.

A cell is a Python, a Django and a DRF release that the packages themselves declare compatible:
Django 6 needs Python 3.12; DRF 3.16 declares Django up to 5.2, 3.17 up to 6.0, 3.18 from 5.2 to
6.1. Each cell gets a fresh virtualenv (uv) with the development pins of requirements-dev.txt,
the cell's Django and DRF overriding theirs, and runs

- the library's own tests (tests/errors) on SQLite, without Redis or PostgreSQL;
- the consumer suite: the wheel built from this checkout, installed with pip into fresh
  virtualenvs of the cell's Python, Django and DRF, serving a separate project with gunicorn
  (threads), uvicorn and daphne (tests/test_consumer.py, tests/test_packaging.py).

The service's own suite runs on its two lines through `make test` (see .ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.needs_version = ">=2025.2.9"

# The newest release of each line, the versions the matrix installs.
DJANGO = {"5.2": "5.2.20", "6.0": "6.0.10", "6.1": "6.1.3"}
DRF = {"3.16": "3.16.1", "3.17": "3.17.2", "3.18": "3.18.3"}
# The Django lines each DRF release declares (its classifiers), and the Pythons Django allows.
DRF_SUPPORTS = {"3.16": ("5.2",), "3.17": ("5.2", "6.0"), "3.18": ("5.2", "6.0", "6.1")}
PYTHONS = ("3.11", "3.12", "3.13")
DJANGO_PYTHONS = {"5.2": PYTHONS, "6.0": ("3.12", "3.13"), "6.1": ("3.12", "3.13")}

CELLS = [
    nox.param(python, django, drf, id=f"{python}-django{django}-drf{drf}")
    for python in PYTHONS
    for django in DJANGO
    for drf in DRF
    if django in DRF_SUPPORTS[drf] and python in DJANGO_PYTHONS[django]
]

# What a cell's environment must not inherit from the shell that runs nox: the cell runs on
# SQLite with the embedded defaults, as a stranger's machine would.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")


@nox.session
@nox.parametrize(("python", "django", "drf"), CELLS)
def matrix(session: nox.Session, django: str, drf: str) -> None:
    """The library's tests and the consumer suite on one Python, Django and DRF."""
    overrides = Path(session.create_tmp()) / "overrides.txt"
    overrides.write_text(f"django=={DJANGO[django]}\ndjangorestframework=={DRF[drf]}\n")
    extra = []
    if django == "5.2" and session.python != "3.11":
        # requirements.txt installs the django.tasks backport only where Python means 5.2.
        extra.append("django-tasks==0.12.0")
    # pip builds the wheel and fills the consumer's virtualenvs, as it does for a user.
    session.install("-r", "requirements-dev.txt", "--override", str(overrides), "pip", *extra)
    session.run(
        "python", "-c",
        "import django, rest_framework, sys; "
        "print('Python', sys.version.split()[0], 'Django', django.__version__, "
        "'DRF', rest_framework.__version__)",
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    # Outside the checkout (nox's own temporary directory is inside it): the consumer suite
    # proves that its projects and virtualenvs see nothing of the repository.
    basetemp = tempfile.mkdtemp(prefix=re.sub(r"[^\w.]+", "-", f"errors-{session.name}-"))
    session.run(
        "python", "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={basetemp}",
        "-m", "not postgres and not redis",
        "tests/errors", "tests/test_consumer.py", "tests/test_packaging.py",
        *session.posargs,
        env=env,
        include_outer_env=False,
    )  # fmt: skip
    shutil.rmtree(basetemp, ignore_errors=True)
