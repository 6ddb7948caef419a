"""`workspaces.validators.StorableJSONValidator`: unstorable JSON fails validation at its path."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from errors.normalize import flatten_errors
from workspaces.validators import INT64_MAX, INT64_MIN, StorableJSONValidator


class Document(serializers.Serializer[Any]):
    """A serializer as a project writes one: the validator on a JSONField."""

    document = serializers.JSONField(validators=[StorableJSONValidator()])


def field_errors(value: Any) -> dict[str, list[str]]:
    serializer = Document(data={"document": value})
    assert not serializer.is_valid()
    return flatten_errors(serializer.errors)


NUL = "Null characters are not allowed."
NUMBER = f"Ensure this number is between {INT64_MIN} and {INT64_MAX}."


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ({"color": "\x00"}, {"document.color": [NUL]}),
        (
            {"color": "a\ud800b"},
            {"document.color": ["Surrogate characters are not allowed: U+D800."]},
        ),
        (
            {"tags": ["ok", "\udfff"]},
            {"document.tags.1": ["Surrogate characters are not allowed: U+DFFF."]},
        ),
        ({"a": {"b": [{"c": "\x00"}]}}, {"document.a.b.0.c": [NUL]}),
        # A bad key is reported where it is, without the key (a response cannot carry it).
        ({"a": {"k\x00": 1}}, {"document.a": [f"In a key: {NUL}"]}),
        ({"\ud800": 1}, {"document": ["In a key: Surrogate characters are not allowed: U+D800."]}),
        ("\x00", {"document": [NUL]}),
        ({"n": INT64_MAX + 1}, {"document.n": [NUMBER]}),
        ({"n": [INT64_MIN - 1]}, {"document.n.0": [NUMBER]}),
        ({"n": 1e19}, {"document.n": [NUMBER]}),
        ({"a": 1, "b": "\x00", "c": [2**64]}, {"document.b": [NUL], "document.c.0": [NUMBER]}),
    ],
    ids=[
        "nul-value",
        "surrogate-value",
        "in-a-list",
        "deep",
        "nul-key",
        "surrogate-key-at-top",
        "bare-string",
        "int-too-big",
        "int-too-small",
        "float-too-big",
        "several",
    ],
)
def test_unstorable_values_are_reported_at_their_path(
    value: Any, errors: dict[str, list[str]]
) -> None:
    assert field_errors(value) == errors


@pytest.mark.parametrize(
    "value",
    [
        {"color": "blue", "n": [INT64_MIN, INT64_MAX, -0.0, 1e-300, 9.2e18], "ok": None},
        {"emoji": "😀", "é": "\u2028", "": ""},
        [True, False, None, {"nested": [[[]]]}],
    ],
)
def test_storable_values_pass(value: Any) -> None:
    serializer = Document(data={"document": value})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["document"] == value


def test_infinity_is_refused_at_its_path_when_the_field_checks_first() -> None:
    # JSONField's own check refuses infinity before validators run, without a path; a field
    # that calls the validator first (workspaces' MetadataField does) gets the path.
    validator = StorableJSONValidator()
    assert list(validator.problems({"a": [float("inf")]})) == [
        ("a.0", "A valid number is required.")
    ]
    assert field_errors({"a": float("inf")}) == {"document": ["Value must be valid JSON."]}


def test_any_depth_is_walked_without_recursion() -> None:
    value: Any = "\x00"
    for _ in range(50_000):
        value = [value]
    problems = list(StorableJSONValidator().problems(value))
    assert problems == [(".".join(["0"] * 50_000), NUL)]


def test_the_number_of_problems_reported_is_bounded() -> None:
    errors = field_errors({str(i): "\x00" for i in range(1000)})
    assert len(errors) == 20


def test_the_number_range_can_be_narrowed() -> None:
    validator = StorableJSONValidator(min_number=-(2**53), max_number=2**53)
    assert list(validator.problems({"n": 2**53 + 1})) == [
        ("n", f"Ensure this number is between {-(2**53)} and {2**53}.")
    ]
