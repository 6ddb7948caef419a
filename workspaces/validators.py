"""A DRF validator for JSON values a database must store as sent: 400 with the path, not a 500.

PostgreSQL stores no NUL character in `text` or `jsonb`, and no database (nor UTF-8, nor the
JSON encoders) takes an unpaired surrogate such as `"\\ud800"`, which Python's `json` decodes
without complaint. DRF's `CharField` refuses both; `JSONField` refuses neither, in values or in
keys, at any depth. Numbers are bounded too: PostgreSQL's `jsonb` reads `1e20` back as the
integer `100000000000000000000`, which 64-bit encoders (orjson, most clients) cannot write.

    metadata = serializers.JSONField(validators=[StorableJSONValidator()])

Each problem is reported at its path below the field (`{"tags.0": [...]}`, which the handler
shows as `metadata.tags.0`); a problem of the value itself (a bad key at the top, a bare string)
is reported at the field. `JSONField` itself refuses infinity before validators run (without a
path); a field that calls the validator first reports it at its path as well.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.validators import ProhibitSurrogateCharactersValidator

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _character_problem(text: str) -> str | None:
    found = _UNSTORABLE_CHARACTER.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return str(ProhibitNullCharactersValidator.message)
    return str(ProhibitSurrogateCharactersValidator.message).format(code_point=ord(found.group()))


def _join(path: str, step: object) -> str:
    return f"{path}.{step}" if path else str(step)


class StorableJSONValidator:
    """Refuses JSON values with characters or numbers a database cannot store as sent.

    Strings and object keys must hold no NUL and no unpaired surrogate; numbers must be finite
    and between `min_number` and `max_number` (the 64-bit integer range by default). The value is
    walked without recursion, so any depth is safe; at most `max_errors` problems are reported.
    """

    number_message = _("Ensure this number is between %(min_number)s and %(max_number)s.")
    invalid_number_message = _("A valid number is required.")  # DRF's msgid
    key_message = _("In a key: %(problem)s")
    type_message = _("Not a JSON value.")

    def __init__(
        self,
        *,
        min_number: int = INT64_MIN,
        max_number: int = INT64_MAX,
        max_errors: int = 20,
    ) -> None:
        self.min_number = min_number
        self.max_number = max_number
        self.max_errors = max_errors

    def __call__(self, value: Any) -> None:
        problems: dict[str, list[str]] = {}
        for path, message in self.problems(value):
            problems.setdefault(path, []).append(message)
            if len(problems) >= self.max_errors:
                break
        if not problems:
            return
        if "" in problems:  # the value itself: reported at the field, like any field error
            raise ValidationError(problems[""])
        raise ValidationError(problems)

    def problems(self, value: Any) -> Iterator[tuple[str, str]]:
        """Every `(path, message)` of `value`, in document order; `""` is the value itself."""
        stack: list[tuple[str, Any]] = [("", value)]
        while stack:
            path, item = stack.pop()
            if isinstance(item, str):
                problem = _character_problem(item)
                if problem is not None:
                    yield path, problem
            elif item is None or isinstance(item, bool):
                continue
            elif isinstance(item, int | float):
                problem = self._number_problem(item)
                if problem is not None:
                    yield path, problem
            elif isinstance(item, Mapping):
                children = []
                for key, child in item.items():
                    problem = _character_problem(key) if isinstance(key, str) else None
                    if problem is not None:
                        # Not at the key's own path: the response would have to carry the key.
                        yield path, self.key_message % {"problem": problem}
                        continue
                    children.append((_join(path, key), child))
                stack.extend(reversed(children))
            elif isinstance(item, list | tuple):
                stack.extend(reversed([(_join(path, i), child) for i, child in enumerate(item)]))
            else:
                yield path, str(self.type_message)

    def _number_problem(self, number: float) -> str | None:
        if isinstance(number, float) and not math.isfinite(number):
            return str(self.invalid_number_message)
        if self.min_number <= number <= self.max_number:
            return None
        return self.number_message % {"min_number": self.min_number, "max_number": self.max_number}
