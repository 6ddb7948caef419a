"""Settings of a tiny project that uses only `errors` and DRF, set up as the README says.

Everything here besides the three setup lines (INSTALLED_APPS, REST_FRAMEWORK, MIDDLEWARE) is
the least Django needs to serve requests and run `manage.py check`.
"""

SECRET_KEY = "standalone-project-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "standalone_urls"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "errors",
]

REST_FRAMEWORK = {"EXCEPTION_HANDLER": "errors.handler.exception_handler"}

MIDDLEWARE = [
    "errors.middleware.CorrelationIdMiddleware",
    "django.middleware.common.CommonMiddleware",
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
