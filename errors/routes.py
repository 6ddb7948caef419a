"""Route labels: `ResolverMatch.route` written the way path() templates read (docs/logging.md)."""

from __future__ import annotations

import functools
import re

ROOT_ROUTE = "/"
# Characters path() templates do without (docs/logging.md, route labels).
_REGEX_SIGNS = frozenset("^$()[\\")
_TOKEN = re.compile(
    r"(?P<quantifier>(?:[?*+]|\{\d*(?:,\d*)?\})[?+]?)"
    # A group opener: named, matching only its content (`(?:`, `(?i:`), any other `(?`, or `(`.
    r"|(?P<opener>\((?:\?P<(?P<name>\w+)>|(?P<plain>\?[aiLmsux]*(?:-[imsx]+)?:)|\?)?)"
    # An escape, a character class (a "]" first is one of its characters) or any one character.
    r"|\\.|\[\^?+\]?+(?:\\.|[^\]\\])*\]|.",
    re.DOTALL,
)


# The bound guards against a URLconf built on the fly.
@functools.lru_cache(maxsize=1000)
def route_label(route: str) -> str:
    r"""The `route` label of a resolved route: `^api/w/(?P<pk>[^/.]+)/$` reads `api/w/<pk>/`."""
    label = _readable(route) if _REGEX_SIGNS.intersection(route) else route
    return label or ROOT_ROUTE


def _readable(regex: str) -> str:
    """The regex as a path() template, read token by token (docs/logging.md)."""
    parts: list[str] = []
    # Each open group: its opener, where it sits in `parts`, the parameters met before it.
    open_groups: list[tuple[re.Match[str], int, int]] = []
    parameters = 0
    start = 0  # where the last atom starts in `parts`
    kind = "literal"  # the last atom's kind decides what a quantifier after it does
    for token in _TOKEN.finditer(regex):
        text = token.group()
        if token["quantifier"]:
            if kind == "verbatim":
                parts.append(text)
            elif kind == "literal" and text.startswith(("?", "*", "{0", "{,")):
                del parts[start:]  # optional: left out
            continue
        start = len(parts)
        kind = "literal"
        if token["opener"]:
            open_groups.append((token, start, parameters))
            parts.append(text)  # stays if the group never closes: a "(" of a path() piece
            kind = "opener"  # nothing for a quantifier to repeat
        elif text == ")" and open_groups:
            opener, start, before = open_groups.pop()
            if opener["name"] or opener["opener"] == "(":
                parts[start:] = [f"<{opener['name'] or 'arg'}>"]
                parameters += 1
            elif opener["plain"]:
                del parts[start]  # the opener: the group reads as its content
            else:
                del parts[start:]  # a look-around, inline flags or a comment: matches no text
            kind = "parameter" if parameters > before else "literal"
        elif len(text) == 2 and text[0] == "\\" and not text[1].isalnum():
            parts.append(text[1])  # an escaped character is itself
        elif text not in ("^", "$", r"\A", r"\b", r"\B", r"\Z"):  # anchors read as nothing
            parts.append(text)
            # A class such as \d, a back reference, a character class, "." or "|" stays as written.
            kind = "verbatim" if len(text) > 1 or text in ".|" else "literal"
    return "".join(parts)
