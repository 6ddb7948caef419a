"""A JSON parser for DRF that answers hostile documents with 400 `parse_error`, never a 500.

`errors.parsers.JSONParser` replaces `rest_framework.parsers.JSONParser` (same media type, same
messages' form). On top of what DRF's parser does it refuses:

- documents nested deeper than `ERRORS_JSON_MAX_DEPTH` arrays and objects (64 by default).
  Python's `json` recurses once per level and raises `RecursionError` a few hundred levels down,
  and code that walks the parsed data (serializers, encoders, the database driver) recurses too;
  the depth is measured on the text first, without recursion, in linear time;
- `NaN`, `Infinity` and `-Infinity`, which are not JSON, whatever DRF's `STRICT_JSON` says;
- a charset in `Content-Type` that is not a text encoding;
- a body longer than DATA_UPLOAD_MAX_MEMORY_SIZE, with Django's `RequestDataTooBig` (413
  `payload_too_large`), reading at most one byte past the limit. DRF 3.17 and later read the
  body through `request.body`, which Django checks; DRF 3.16 hands the parser the raw stream,
  which nothing checks, so without this a body over the limit was parsed and validated (a 400,
  or even a success) wherever `errors.middleware` did not refuse it first.

Numbers too large for a float (`1e400`) parse as infinity, as in Python's `json`: DRF's number
fields and `JSONField` refuse it in validation, where the field's name can be reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import IO, Any, NoReturn

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .conf import errors_settings

# A JSON string, closing quote optional: an unterminated string then runs to the end of the text
# instead of being retried from every later quote (which would take quadratic time).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest (0 for a bare string or number).

    Brackets inside strings do not count. Measured on the text, not by parsing, so any depth is
    measured without recursion; a malformed text gets a number that only the parser's own error
    makes sense of.
    """
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
    """DRF's JSON parser, bounded in depth and strict about what JSON is (see the module)."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Parse the request body; any document it cannot take is a `ParseError` (400), a body
        over DATA_UPLOAD_MAX_MEMORY_SIZE `RequestDataTooBig` (413)."""
        context = parser_context or {}
        encoding = context.get("encoding") or settings.DEFAULT_CHARSET
        raw = _read_within_limit(stream)
        try:
            # bytes.decode() accepts text encodings only: a bytes-to-bytes codec such as
            # bz2_codec (which would inflate a small body) is a LookupError here.
            text = raw.decode(encoding) if isinstance(raw, bytes) else str(raw)
        except LookupError:
            raise ParseError("Unsupported charset in the Content-Type header.") from None
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
