"""Settings of a stranger's project: `django-admin startproject` output plus the app's lines.

The lines for `errors` are the ones docs/install.md ("Install and set up") shows
(tests/test_consumer.py checks that the page still shows each of them). CONSUMER_WITH_DRF=0
is the same project on an install without Django REST framework: no `rest_framework` app, no
REST_FRAMEWORK, no API.
"""

import os
from pathlib import Path

from errors.logging import build_logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

WITH_DRF = os.environ.get("CONSUMER_WITH_DRF", "1") == "1"

# A test project's key: never served beyond 127.0.0.1.
SECRET_KEY = "django-insecure-consumer-project-of-the-errors-test-suite"

DEBUG = False

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    *(["rest_framework"] if WITH_DRF else []),
    "errors",
    "shop",
]

if WITH_DRF:
    REST_FRAMEWORK = {"EXCEPTION_HANDLER": "errors.handler.exception_handler"}

MIDDLEWARE = [
    "errors.middleware.CorrelationIdMiddleware",
    "errors.limits.ConcurrencyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "project.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = build_logging_config(level="INFO", fmt="json")

ERRORS_JSON_PATH_PREFIXES = ["/api/"]
# Fewer than gunicorn's 16 threads, so that a request past the limit waits on errors' semaphore.
ERRORS_MAX_CONCURRENT_REQUESTS = 8
ERRORS_QUEUE_TIMEOUT = 3.0
