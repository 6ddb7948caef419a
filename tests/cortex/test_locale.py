"""The service's translations (locale/): complete, faithful to their placeholders, compiled.

The .mo files are committed (the service runs without gettext installed), so they must say what
the .po files say.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(__file__).resolve().parents[2] / "locale"
TRANSLATED = [code for code, _ in settings.LANGUAGES if code != "en"]
# `%(name)s` (gettext's, named) and `{name}` (DRF's field messages, filled in by Field.fail).
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def entries(language: str) -> dict[str, str]:
    """msgid → msgstr of the language's .po file (the header left out)."""
    text = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text("utf-8")
    assert "#, fuzzy" not in text, "fuzzy entries are not compiled"
    found = {}
    for block in text.split("\n\n"):
        parts = {
            key: "".join(ast.literal_eval(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', body))
            for key, body in re.findall(r"^(msgid|msgstr) ((?:\".*\"\n?)+)", block + "\n", re.M)
        }
        if parts.get("msgid"):
            found[parts["msgid"]] = parts.get("msgstr", "")
    return found


def test_the_service_ships_a_catalog_for_every_language_it_lists() -> None:
    assert settings.LANGUAGE_CODE in dict(settings.LANGUAGES)
    assert sorted(TRANSLATED) == ["de", "es", "fr"]
    assert settings.LOCALE_PATHS == [LOCALE]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    found = entries(language)
    assert len(found) > 50
    for msgid, msgstr in found.items():
        assert msgstr, f"{language}: {msgid!r} is not translated"
        assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(msgid)), msgid


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_says_what_the_po_file_says(language: str) -> None:
    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    assert {msgid: catalog.gettext(msgid) for msgid in entries(language)} == entries(language)
