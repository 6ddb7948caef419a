"""Settings shared by all stacks: a small DRF project with nothing that could dominate.

No authentication classes and AllowAny (auth would cost the same everywhere and hide the
differences), JSONRenderer only, an in-memory SQLite database that no view touches, and no
ATOMIC_REQUESTS, so no transaction is opened per request.
"""

from __future__ import annotations

SECRET_KEY = "bench-overhead-not-a-secret"
DEBUG = False
# RequestFactory's environ names this host.
ALLOWED_HOSTS = ["testserver"]

# contrib.auth: DRF's request.user is an AnonymousUser when nobody is authenticated.
BASE_INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
BASE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
INSTALLED_APPS = list(BASE_INSTALLED_APPS)
MIDDLEWARE = list(BASE_MIDDLEWARE)
ROOT_URLCONF = "overhead_stacks.urls"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "ATOMIC_REQUESTS": False,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# What startproject generates; the bare stack's 500 page looks up 500.html through it.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

USE_TZ = True
TIME_ZONE = "UTC"

BASE_REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
REST_FRAMEWORK = dict(BASE_REST_FRAMEWORK)
