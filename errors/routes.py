"""Route labels: `ResolverMatch.route` written the way path() templates read (docs/logging.md)."""

from __future__ import annotations

import functools
import re
from typing import Literal

ROOT_ROUTE = "/"


# The bound guards against a URLconf built on the fly.
@functools.lru_cache(maxsize=1000)
def route_label(route: str) -> str:
    r"""The `route` label of a resolved route: `^api/w/(?P<pk>[^/.]+)/$` reads `api/w/<pk>/`."""
    label = _readable(route)[0] if _REGEX_SIGNS.intersection(route) else route
    return label or ROOT_ROUTE


# Characters path() templates do without (docs/logging.md, route labels).
_REGEX_SIGNS = frozenset("^$()[\\")
# The start of a group that only matches its content: `(?:`, or with scoped flags `(?i:`.
_PLAIN_GROUP = re.compile(r"\?[aiLmsux]*(?:-[imsx]+)?:")
_QUANTIFIER = re.compile(r"(?:[?*+]|\{\d*(?:,\d*)?\})[?+]?")
# An escape, a character class (a "]" first is one of its characters) or any one character.
_TOKEN = re.compile(r"\\.|\[\^?+\]?+(?:\\.|[^\]\\])*\]|.", re.DOTALL)
_Kind = Literal["parameter", "literal", "verbatim"]


def _readable(regex: str) -> tuple[str, bool]:
    """The regex as a path() template, and whether it has a parameter (docs/logging.md)."""
    parts: list[str] = []
    has_parameter = False
    i = 0
    while i < len(regex):
        text, kind, i = _atom(regex, i)
        quantifier = _QUANTIFIER.match(regex, i)
        if quantifier:
            i = quantifier.end()
            if kind == "verbatim":
                text += quantifier.group()
            elif kind == "literal" and quantifier.group().startswith(("?", "*", "{0", "{,")):
                continue  # optional: left out
        has_parameter = has_parameter or kind == "parameter"
        parts.append(text)
    return "".join(parts), has_parameter


def _atom(regex: str, i: int) -> tuple[str, _Kind, int]:
    """The atom at `i`: readable text, kind (parameter, literal, verbatim) and where it ends."""
    if regex[i] == "(":
        end = _group_end(regex, i)
        if end is not None:
            return (*_group(regex[i + 1 : end - 1]), end)
    token = _token(regex, i)
    end = i + len(token)
    if token in ("^", "$", r"\A", r"\b", r"\B", r"\Z"):
        return "", "literal", end
    if len(token) == 2 and token[0] == "\\":
        # A class such as \d, or a back reference, is kept; an escaped character is itself.
        return (token, "verbatim", end) if token[1].isalnum() else (token[1], "literal", end)
    if (token[0] == "[" and len(token) > 1) or token in ".|":
        return token, "verbatim", end
    return token, "literal", end


def _group(inner: str) -> tuple[str, _Kind]:
    if inner.startswith("?P<"):
        return f"<{inner[3 : inner.find('>')]}>", "parameter"
    plain = _PLAIN_GROUP.match(inner)
    if plain:
        text, has_parameter = _readable(inner[plain.end() :])
        return text, "parameter" if has_parameter else "literal"
    if inner.startswith("?"):  # a look-around, inline flags or a comment: matches no text
        return "", "literal"
    return "<arg>", "parameter"


def _token(regex: str, i: int) -> str:
    """The escape, character class or single character at `i`."""
    match = _TOKEN.match(regex, i)
    return match.group() if match else regex[i]


def _group_end(regex: str, i: int) -> int | None:
    """Where the group opening at `i` ends (None if it does not: a "(" of a path() piece)."""
    depth = 0
    while i < len(regex):
        token = _token(regex, i)
        i += len(token)
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth == 0:
            return i
    return None
