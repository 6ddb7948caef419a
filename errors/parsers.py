"""A DRF JSON parser: hostile documents are a 400 `parse_error`, never a 500 (docs/handling.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import IO, Any, NoReturn

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .conf import errors_settings

# A JSON string, closing quote optional: an unterminated one is not retried (quadratic time).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest, measured without recursion."""
    if text.count("[") + text.count("{") == 0:
        return 0
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def _parse_int(literal: str) -> int:
    try:
        return int(literal)
    except ValueError:
        # Python's message names sys.set_int_max_str_digits(): not advice for an API client.
        raise ValueError("a number has too many digits") from None


def _read_within_limit(stream: IO[Any] | None) -> bytes | str:
    """The whole body, or `RequestDataTooBig` once it is longer than the limit."""
    if stream is None:
        return b""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return stream.read()
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        # The message is Django's own; the client gets the catalog's.
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return raw


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded in depth and strict about what JSON is."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Parse the body: `ParseError` (400) for a bad document, `RequestDataTooBig` (413)."""
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        raw = _read_within_limit(stream)
        try:
            # decode() takes text encodings only: bz2_codec & co. are a LookupError here.
            text = raw.decode(encoding) if isinstance(raw, bytes) else str(raw)
        except LookupError:
            raise ParseError(gettext("Unsupported charset in the Content-Type header.")) from None
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        limit = errors_settings.json_max_depth
        if json_depth(text) > limit:
            raise ParseError(f"JSON parse error - nested more than {limit} levels deep")
        try:
            return json.loads(text, parse_constant=_refuse_constant, parse_int=_parse_int)
        except RecursionError:
            # Only with a limit set above what the interpreter's stack holds.
            raise ParseError("JSON parse error - nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
