"""The test settings, with `POST /tasks/<name>/` (tests/support/task_urls.py): for real servers
and workers that run the test tasks."""

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "tests.support.task_urls"
