"""Settings for the test suite: the service's own settings plus a test-only app.

Run with DATABASE_URL / REDIS_URL set, the same suite runs on PostgreSQL / Redis.
"""

import os

os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("SECRET_KEY", "test-secret-key")

from cortex.settings import *  # noqa: E402,F403
from cortex.settings import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
ROOT_URLCONF = "tests.urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

from cortex.settings import MIDDLEWARE  # noqa: E402

MIDDLEWARE = [*MIDDLEWARE, "tests.testapp.middleware.ExplodingMiddleware"]

from cortex.settings import CACHES, REDIS_URL  # noqa: E402

if REDIS_URL:
    # Tests clear the cache before each test (throttle counters); Django's Redis cache clears
    # by FLUSHDB, so the tests keep their cache in a database of their own.
    from urllib.parse import urlsplit

    # TEST_REDIS_CACHE_DB lets two suites share one Redis (each with its own REDIS_URL database).
    _cache_db = os.environ.get("TEST_REDIS_CACHE_DB", "15")
    _test_cache = urlsplit(REDIS_URL)._replace(path=f"/{_cache_db}").geturl()
    CACHES = {"default": {**CACHES["default"], "LOCATION": _test_cache}}
