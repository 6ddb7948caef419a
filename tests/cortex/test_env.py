"""cortex/env.py: each helper's default, the values it accepts, and a bad value refused at once
with ImproperlyConfigured naming the variable (the settings' own use: test_settings.py).

One table per helper; a row's `expected` is the value read, or `Refused(...)` with what the
error must say.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cortex.env import env_bool, env_choice, env_db, env_int, env_list, env_rate, env_str

NAME = "CORTEX_TEST_SETTING"
UNSET = None  # a row whose variable is not in the environment at all


@dataclass(frozen=True)
class Refused:
    """The helper raises ImproperlyConfigured saying `says` (and naming the variable)."""

    says: str


def read(
    monkeypatch: pytest.MonkeyPatch, value: str | None, helper: Callable[[], Any], expected: Any
) -> None:
    """Set the variable to `value` (or unset it), call `helper` and check it gives `expected`."""
    if value is None:
        monkeypatch.delenv(NAME, raising=False)
    else:
        monkeypatch.setenv(NAME, value)
    if isinstance(expected, Refused):
        with pytest.raises(ImproperlyConfigured) as caught:
            helper()
        message = str(caught.value)
        assert message.startswith(f"{NAME} "), message
        assert expected.says in message, message
    else:
        assert helper() == expected


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        (UNSET, True, True),
        (UNSET, False, False),
        ("", True, True),  # blank is unset
        ("   ", False, False),
        *[(v, False, True) for v in ("1", "true", "True", "YES", "on", " yes ")],
        *[(v, True, False) for v in ("0", "false", "FALSE", "no", "Off", " 0 ")],
        ("maybe", False, Refused("must be one of 1/0, true/false, yes/no, on/off; got 'maybe'")),
        ("2", True, Refused("got '2'")),
        ("y", True, Refused("got 'y'")),
    ],
)
def test_env_bool(
    monkeypatch: pytest.MonkeyPatch, value: str | None, default: bool, expected: Any
) -> None:
    read(monkeypatch, value, lambda: env_bool(NAME, default), expected)


@pytest.mark.parametrize(
    ("value", "minimum", "expected"),
    [
        (UNSET, 0, 30),
        ("", 0, 30),
        ("5", 0, 5),
        (" 7 ", 0, 7),
        ("0", 0, 0),
        ("1", 1, 1),
        ("007", 0, 7),
        ("five", 0, Refused("must be a whole number; got 'five'")),
        ("1.5", 0, Refused("must be a whole number; got '1.5'")),
        ("-1", 0, Refused("must be at least 0; got -1")),
        ("0", 1, Refused("must be at least 1; got 0")),
    ],
)
def test_env_int(
    monkeypatch: pytest.MonkeyPatch, value: str | None, minimum: int, expected: Any
) -> None:
    read(monkeypatch, value, lambda: env_int(NAME, 30, minimum=minimum), expected)


LEVELS = ("DEBUG", "INFO", "WARNING")


@pytest.mark.parametrize(
    ("value", "upper", "expected"),
    [
        (UNSET, False, "INFO"),
        (" ", True, "INFO"),
        ("WARNING", False, "WARNING"),
        ("debug", True, "DEBUG"),
        (" Warning ", True, "WARNING"),
        ("debug", False, Refused("must be one of DEBUG INFO WARNING; got 'debug'")),
        ("LOUD", True, Refused("must be one of DEBUG INFO WARNING; got 'LOUD'")),
    ],
)
def test_env_choice(
    monkeypatch: pytest.MonkeyPatch, value: str | None, upper: bool, expected: Any
) -> None:
    read(monkeypatch, value, lambda: env_choice(NAME, LEVELS, "INFO", upper=upper), expected)


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        (UNSET, None, None),
        (UNSET, "fallback", "fallback"),
        ("", "fallback", "fallback"),
        ("  ", None, None),
        ("value", None, "value"),
        ("  padded  ", "fallback", "padded"),
    ],
)
def test_env_str(
    monkeypatch: pytest.MonkeyPatch, value: str | None, default: str | None, expected: Any
) -> None:
    read(monkeypatch, value, lambda: env_str(NAME, default), expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (UNSET, ["a.example"]),
        ("", ["a.example"]),
        ("b.example", ["b.example"]),
        ("b.example, c.example", ["b.example", "c.example"]),
        (" b.example ,, c.example, ", ["b.example", "c.example"]),
        (",", []),
    ],
)
def test_env_list(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: Any) -> None:
    read(monkeypatch, value, lambda: env_list(NAME, ["a.example"]), expected)


def test_env_list_gives_a_copy_of_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NAME, raising=False)
    default = ["a.example"]
    env_list(NAME, default).append("b.example")
    assert default == ["a.example"]


RATE_EXAMPLE = "must be a rate such as 10/second, 100/minute, 1000/hour"


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        (UNSET, "100/minute", "100/minute"),
        ("", "100/minute", "100/minute"),
        *[
            (v, "100/minute", v)
            for v in (
                "5/s",
                "10/sec",
                "10/second",
                "3/m",
                "3/min",
                "60/minute",
                "1000/h",
                "1000/hour",
                "9/d",
                "9/day",
            )
        ],
        (" 10/minute ", "100/minute", "10/minute"),
        ("lots", "100/minute", Refused(f"{RATE_EXAMPLE}; got 'lots'")),
        ("10/fortnight", "100/minute", Refused("got '10/fortnight'")),
        ("10 / minute", "100/minute", Refused("got '10 / minute'")),
        ("-1/minute", "100/minute", Refused("got '-1/minute'")),
        ("10/MINUTE", "100/minute", Refused("got '10/MINUTE'")),
        # The default is checked too: a typo in settings.py fails at start, not per request.
        (UNSET, "100/minutes", Refused("got '100/minutes'")),
    ],
)
def test_env_rate(
    monkeypatch: pytest.MonkeyPatch, value: str | None, default: str, expected: Any
) -> None:
    read(monkeypatch, value, lambda: env_rate(NAME, default), expected)


SQLITE = "sqlite:///db.sqlite3"
KNOWN_SCHEMES = re.compile(r"use one of: .*\bpostgres\b.*\bsqlite\b")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (UNSET, {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}),
        ("", {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}),
        ("sqlite://:memory:", {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}),
        (
            "postgres://cortex:secret@db.internal:5433/cortex",
            {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "cortex",
                "USER": "cortex",
                "PASSWORD": "secret",
                "HOST": "db.internal",
                "PORT": 5433,
            },
        ),
        ("nosuchdb://x", Refused("has an unknown scheme 'nosuchdb'; use one of: ")),
        ("db.sqlite3", Refused("has an unknown scheme 'db.sqlite3'")),
        (
            "postgres://cortex@db.internal:port/cortex",
            Refused("is not a valid database URL: Port could not be cast to integer value"),
        ),
    ],
)
def test_env_db(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: Any) -> None:
    def entry() -> dict[str, object]:
        """The DATABASES entry, as far as the row states it."""
        config = env_db(NAME, SQLITE)
        return {key: config[key] for key in expected}

    read(monkeypatch, value, entry, expected)


def test_env_db_names_the_schemes_it_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, "nosuchdb://x")
    with pytest.raises(ImproperlyConfigured, match=KNOWN_SCHEMES):
        env_db(NAME, SQLITE)
