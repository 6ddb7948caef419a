"""errors/locale: every message `errors` can send is translated in each shipped language, with
the source's placeholders, and the compiled catalogs hold exactly what the .po files say."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

from errors import catalog

LOCALE = Path(catalog.__file__).parent / "locale"
LANGUAGES = ("de", "es", "fr")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def read_po(path: Path) -> dict[str, str]:
    """`{msgid: msgstr}` of a .po file's live entries (its header left out)."""
    entries: dict[str, str] = {}
    msgid: str | None = None
    field = None
    values: dict[str, str] = {}

    def close() -> None:
        if msgid:
            entries[msgid] = values.get("msgstr", "")

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            close()
            field, values = "msgid", {"msgid": ast.literal_eval(line[6:])}
        elif line.startswith("msgstr "):
            field = "msgstr"
            values["msgstr"] = ast.literal_eval(line[7:])
        elif line.startswith('"') and field is not None:
            values[field] += ast.literal_eval(line)
        else:
            continue
        msgid = values.get("msgid")
    close()
    return entries


def test_the_shipped_languages_are_those_with_a_catalog() -> None:
    assert sorted(p.name for p in LOCALE.iterdir() if p.is_dir()) == sorted(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_with_the_source_s_placeholders(language: str) -> None:
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    entries = read_po(po)
    assert len(entries) >= 40, entries
    untranslated = [msgid for msgid, msgstr in entries.items() if not msgstr.strip()]
    assert not untranslated, f"{po}: no translation for {untranslated}"
    for msgid, msgstr in entries.items():
        assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(msgid)), (
            f"{po}: {msgid!r} -> {msgstr!r}: the placeholders differ"
        )
    assert "#, fuzzy" not in po.read_text(encoding="utf-8").split("\n\n", 1)[1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_is_the_po_file(language: str) -> None:
    directory = LOCALE / language / "LC_MESSAGES"
    with open(directory / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    expected = read_po(directory / "django.po")
    assert {msgid: compiled.gettext(msgid) for msgid in expected} == expected, (
        f"{directory / 'django.mo'} is out of date: run `django-admin compilemessages` in errors/"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_builtin_catalog_message_is_in_the_catalog_of_each_language(language: str) -> None:
    entries = read_po(LOCALE / language / "LC_MESSAGES" / "django.po")
    sources = {catalog.english(entry[3]) for entry in catalog.BUILTIN_CODES.values()}
    assert sources - set(entries) == set()
