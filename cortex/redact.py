"""`redact_url`: a URL fit for the access log, its secret-looking parameter values masked.

See docs/asgi.md, "Secrets in URLs"."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote_plus

from errors.logging import DEFAULT_SENSITIVE_KEYS, REDACTED
from errors.logging.safe import safe_str

SENSITIVE_PARAMETER_WORDS: Final[frozenset[str]] = frozenset(
    {
        "auth",
        "code",
        "credential",
        "credentials",
        "hmac",
        "jwt",
        "key",
        "otp",
        "pass",
        "pwd",
        "sig",
        "signature",
        "ticket",
        "verifier",
    }
)
"""Words that make a query parameter secret when its name contains one as a word (docs/asgi.md)."""

# Words of a parameter name (docs/asgi.md): `SAML` and `Response` of `SAMLResponse`.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_SEPARATORS = re.compile(r"([&;])")


def is_sensitive_parameter(name: str) -> bool:
    """Tell whether a query parameter's value must not be logged (`name` as it is in the URL)."""
    decoded = unquote_plus(name)
    lowered = decoded.lower()
    if any(fragment in lowered for fragment in DEFAULT_SENSITIVE_KEYS):
        return True
    return any(word.lower() in SENSITIVE_PARAMETER_WORDS for word in _WORD.findall(decoded))


def redact_url(url: str) -> str:
    """Return `url` with every secret-looking value replaced by `[REDACTED]`; never raises."""
    try:
        text = url if isinstance(url, str) else safe_str(url)
        rest, hash_mark, fragment = text.partition("#")
        base, question_mark, query = rest.partition("?")
        if "://" in base:
            base = _redact_user_info(base)
        if query:
            query = _redact_parameters(query)
        if "=" in fragment:
            fragment = _redact_parameters(fragment)
        return base + question_mark + query + hash_mark + fragment
    except Exception:
        return REDACTED


def _redact_parameters(query: str) -> str:
    parts = _SEPARATORS.split(query)
    for index in range(0, len(parts), 2):  # odd indexes hold the separators
        name, equals, value = parts[index].partition("=")
        if equals and value and is_sensitive_parameter(name):
            parts[index] = f"{name}={REDACTED}"
    return "".join(parts)


def _redact_user_info(base: str) -> str:
    scheme, separator, rest = base.partition("://")
    if not _SCHEME.fullmatch(scheme):
        return base
    authority, slash, path = rest.partition("/")
    # The last "@" ends the user info: an unencoded "@" in a password must not leak its tail.
    user_info, at, host = authority.rpartition("@")
    if not at or ":" not in user_info:
        return base
    user = user_info.split(":", 1)[0]
    return f"{scheme}{separator}{user}:{REDACTED}@{host}{slash}{path}"
