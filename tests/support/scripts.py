"""A Python snippet run in a fresh interpreter at the repository's root, without Django settings:
what `errors` does where no project has been set up (a settings module, a script)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.servers import REPO_ROOT


def run_without_settings(code: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -c code` with DJANGO_SETTINGS_MODULE unset; its output, whatever its status."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
