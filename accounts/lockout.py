"""Password guessing bounded per account, without letting a stranger lock the owner out.

Each wrong password counts once for the account (the username asked for, whether or not it
exists) and once for the client address, in Django's cache (Redis with REDIS_URL, so every
process shares the counts). A window of LOGIN_ACCOUNT_WINDOW seconds starts with a key's first
failure; when it ends the count starts again from zero.

Once an account has LOGIN_ACCOUNT_FAILURES failures in its window, an attempt for it from an
address that has failures of its own in its window (for any account) is refused with 429 before
the password is checked. An address without failures may still try, so the owner, logging in
from where they did not mistype, still gets in; every address gets at most one guess at a locked
account. Per address, LOGIN_THROTTLE_RATE bounds requests as well.

While Redis cannot be reached the counts are kept in the process instead (cortex/redis_guard.py):
guessing stays bounded per process, and logins keep working.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import unicodedata

from django.conf import settings
from django.core.cache import BaseCache
from django.utils.translation import gettext_lazy as _

from cortex import redis_guard
from errors.exceptions import RateLimitException

logger = logging.getLogger("accounts")

_PREFIX = "login_failures"


def _account_key(username: str) -> str:
    # Hashed: a cache key of bounded length and safe characters, and no user names in Redis.
    # Case-folded, so that "Alice" and "alice" share a count even where the database compares
    # names without case; two accounts that differ only by case share one (stricter, harmless).
    normalized = unicodedata.normalize("NFKC", username).casefold()
    return f"{_PREFIX}:account:{hashlib.sha256(normalized.encode()).hexdigest()[:32]}"


def _address_key(address: str) -> str:
    return f"{_PREFIX}:address:{address}"


def refuse_if_locked(username: str, address: str) -> None:
    """Raise 429 `rate_limit_exceeded` (+ Retry-After) if this attempt must not be checked."""
    account, source = _account_key(username), _address_key(address)
    counts = redis_guard.with_counters(
        lambda cache: cache.get_many([account, f"{account}:until", source, f"{source}:until"])
    )
    if int(counts.get(account) or 0) < settings.LOGIN_ACCOUNT_FAILURES:
        return
    if not counts.get(source):
        return
    now = time.time()
    window_end = now + settings.LOGIN_ACCOUNT_WINDOW
    # Refused while both counts last: until the first of the two windows ends.
    ends = min(
        float(counts.get(f"{account}:until") or window_end),
        float(counts.get(f"{source}:until") or window_end),
    )
    raise RateLimitException(
        _("Too many failed logins for this account; try again later."),
        retry_after=max(1, math.ceil(ends - now)),
    )


def record_failure(username: str, address: str) -> None:
    """Count a wrong password for the account and for the address; log a new lockout once."""
    limit = settings.LOGIN_ACCOUNT_FAILURES
    window = settings.LOGIN_ACCOUNT_WINDOW

    def count_both(cache: BaseCache) -> int:
        failures = _count(cache, _account_key(username), window)
        _count(cache, _address_key(address), window)
        return failures

    failures = redis_guard.with_counters(count_both)
    if failures == limit:  # one request sees the count reach the limit: one line per lockout
        logger.warning(
            "Logins to an account locked after %d failed attempts in %d s; from addresses "
            "without failures they are still checked",
            failures,
            window,
            extra={"username": username, "client_address": address, "failures": failures},
        )


def _count(cache: BaseCache, key: str, window: int) -> int:
    """Add one to `key`'s count in its window (which starts now if it has none); the count."""
    # Kept beside the count for Retry-After: the cache API does not tell a key's expiry.
    cache.add(f"{key}:until", time.time() + window, window)
    if cache.add(key, 1, window):
        return 1
    try:
        count = int(cache.incr(key))
    except ValueError:  # the window ended between add() and incr()
        cache.set(key, 1, window)
        return 1
    if count == 1:
        # Redis's INCR made the key afresh (it expired in between): give it its window.
        cache.touch(key, window)
    return count
