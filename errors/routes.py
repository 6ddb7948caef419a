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
_Kind = Literal["parameter", "literal", "verbatim"]


def _readable(regex: str) -> tuple[str, bool]:
    r"""The regex written as a path() template, and whether it has a parameter (the rules are
    in docs/logging.md, "Route labels")."""
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
    char = regex[i]
    if char in "^$":
        return "", "literal", i + 1
    if char == "\\" and i + 1 < len(regex):
        escaped = regex[i + 1]
        if escaped in "AbBZ":
            return "", "literal", i + 2
        if escaped.isalnum():  # a class such as \d, or a back reference
            return regex[i : i + 2], "verbatim", i + 2
        return escaped, "literal", i + 2
    if char == "[":
        end = _class_end(regex, i)
        if end is not None:
            return regex[i:end], "verbatim", end
    if char == "(":
        end = _group_end(regex, i)
        if end is not None:
            return (*_group(regex[i + 1 : end - 1]), end)
    if char in ".|":
        return char, "verbatim", i + 1
    return char, "literal", i + 1


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


def _class_end(regex: str, i: int) -> int | None:
    """Where the character class opening at `i` ends (None if it does not)."""
    j = i + 1
    if regex.startswith("^", j):
        j += 1
    if regex.startswith("]", j):  # a "]" first is one of the class's characters
        j += 1
    while j < len(regex):
        if regex[j] == "\\":
            j += 2
        elif regex[j] == "]":
            return j + 1
        else:
            j += 1
    return None


def _group_end(regex: str, i: int) -> int | None:
    """Where the group opening at `i` ends (None if it does not: a "(" of a path() piece)."""
    depth = 0
    j = i
    while j < len(regex):
        char = regex[j]
        if char == "\\":
            j += 2
            continue
        if char == "[":
            j = _class_end(regex, j) or j + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return None
