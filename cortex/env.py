"""Reading settings from the environment strictly: a bad value stops start-up, naming the variable.

django-environ parses the values; these helpers add the checks it leaves out (it reads "maybe" as
False and accepts any level name), so a typo in production is a clear error at start, not a
surprise at request time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = env.str(name, default=None)
    return None if value is None or value.strip() == "" else value.strip()


def env_bool(name: str, default: bool) -> bool:
    """A boolean: 1/true/yes/on or 0/false/no/off (any case)."""
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}"
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """A whole number no smaller than `minimum`."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {number}")
    return number


def env_choice(name: str, choices: Iterable[str], default: str, *, upper: bool = False) -> str:
    """One of `choices` (compared in upper case when `upper`)."""
    value = _raw(name)
    if value is None:
        return default
    if upper:
        value = value.upper()
    allowed = list(choices)
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {' '.join(allowed)}; got {value!r}")
    return value


def env_str(name: str, default: str | None = None) -> str | None:
    """A string, or `default` when unset or blank."""
    value = _raw(name)
    return default if value is None else value


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


_RATE = re.compile(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)")


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as `10/minute` (checked here, or DRF would fail per request)."""
    value = _raw(name) or default
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 10/second, 100/minute, 1000/hour; got {value!r}"
        )
    return value


def env_db(name: str, default: str) -> dict[str, object]:
    """A database URL (django-environ's syntax), as a DATABASES entry."""
    value = _raw(name) or default
    scheme = value.split(":", 1)[0]
    if scheme not in environ.Env.DB_SCHEMES:
        known = " ".join(sorted(environ.Env.DB_SCHEMES))
        raise ImproperlyConfigured(f"{name} has an unknown scheme {scheme!r}; use one of: {known}")
    try:
        return environ.Env.db_url_config(value)
    except Exception as exc:  # django-environ raises several types for a bad URL
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
