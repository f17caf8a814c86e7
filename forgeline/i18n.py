"""Korean and English: the one owner of language choice, translated messages, local number and date formats.

Messages are marked in the source with ``_("…")`` (and ``ngettext(singular, plural, n)``) in English, the
gettext convention; their translations live in gettext catalogs, ``forgeline/locale/<lang>/LC_MESSAGES/
forgeline.po``, one per language (English included, so that every message is known to have both). The
catalogs are read with Babel and compiled in memory the first time a language is used: no compiled ``.mo``
file to build, ship or forget to rebuild. ``python -m forgeline.i18n update`` extracts the messages from the
source with Babel and merges them into both catalogs; a test checks that the catalogs hold exactly the
source's messages, each in both languages.

The language is per context (a ``contextvars`` variable): a CLI command, a report or an app session sets it
with :func:`use_language` and everything it calls speaks that language, so the app and the CLI can adopt it
page by page. Messages use ``str.format`` fields (``_("{n} machines").format(n=3)``), never f-strings: the
catalog must see the text before the values go in.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import string
import sys
from collections.abc import Iterator
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_skeleton
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _babel_decimal
from babel.numbers import format_percent as _babel_percent
from babel.support import Translations

Language = Literal["ko", "en"]
LANGUAGES: tuple[Language, ...] = ("ko", "en")
DEFAULT_LANGUAGE: Language = "en"
DOMAIN = "forgeline"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Babel locales for the formats: South Korea's (ko_KR) and the program's English (en_GB writes 1 October
# 2026, day before month, as Korea's partners in Europe read it; numbers are the same as en_US).
_LOCALES = {"ko": "ko_KR", "en": "en_GB"}
# The source Babel extracts messages from, and the names it treats as message markers.
SOURCE_DIRS = ("forgeline", "apps")
KEYWORDS = {"_": None, "ngettext": (1, 2), "N_": None}

_current: contextvars.ContextVar[Language] = contextvars.ContextVar("forgeline_language")


def check_language(lang: str | None) -> Language:
    """A supported language code; None means the default (``FORGELINE_LANG``, else English)."""
    chosen = (lang or os.environ.get("FORGELINE_LANG") or DEFAULT_LANGUAGE).strip().lower()
    if chosen not in LANGUAGES:
        raise ValueError(f"Language {lang!r} is not available: choose one of {', '.join(LANGUAGES)}.")
    return chosen  # type: ignore[return-value]  # checked against LANGUAGES just above


def current_language() -> Language:
    """The language of this context (set by :func:`use_language`), else the default."""
    return _current.get(None) or check_language(None)


@contextlib.contextmanager
def use_language(lang: str | None) -> Iterator[Language]:
    """Speak ``lang`` in this context (a thread, a task, a Streamlit session's run) until the block ends."""
    token = _current.set(check_language(lang))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def catalog_path(lang: Language) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: Language) -> Translations:
    """The language's catalog, read from its ``.po`` file and compiled in memory once per process."""
    path = catalog_path(lang)
    try:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=lang, domain=DOMAIN)
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"The {lang} message catalog is missing ({path.name}): reinstall Forgeline."
        ) from exc
    compiled = io.BytesIO()
    # Fuzzy entries are a translator's unchecked guess: never shown (the English source is, instead).
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def _(message: str) -> str:
    """``message`` in the current language (the English source when a translation is missing)."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language (Korean has one form for all)."""
    return translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for a deferred marker
    """Mark ``message`` for the catalogs without translating it yet (a constant translated where shown)."""
    return message


# -- messages stored to be worded later -----------------------------------------------------------------
# A text a program step stores (a snapshot's recommendation, a reason) for readers in either language is
# kept as its message and values, worded when read: ``later(N_("{n} parts"), n=as_number(97))``. Values
# are JSON-ready: a number or share with its digits, another stored message, or text taken as it is (data:
# an id, a name).
Stored = dict[str, Any]


def later(message: str, **values: object) -> Stored:
    """``message`` (marked with ``N_`` where written) and its values, to word in the reader's language."""
    return {"message": message, "values": values}


def as_number(value: float | int, digits: int = 0, signed: bool = False) -> Stored:
    """A number to word with ``digits`` decimals; ``signed``: with its sign, plus or minus (+0.012)."""
    return {"number": float(value), "digits": digits, **({"signed": True} if signed else {})}


def as_percent(value: float, digits: int = 1) -> Stored:
    return {"percent": float(value), "digits": digits}


def word(stored: Stored) -> str:
    """A stored message in the current language, its numbers in the language's format. Raises ValueError
    when ``stored`` is not one (the caller then shows the text it stored beside it)."""
    try:
        fields = {name: _worded_value(value) for name, value in (stored.get("values") or {}).items()}
        return _(str(stored["message"])).format(**fields)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a stored message: {stored!r}") from exc


def _worded_value(value: object) -> str:
    if isinstance(value, dict):
        if "message" in value:
            return word(value)
        if "number" in value:
            return number(value["number"], int(value.get("digits", 0)), signed=bool(value.get("signed")))
        if "percent" in value:
            return percent(value["percent"], int(value.get("digits", 1)))
        raise TypeError(f"unknown stored value {value!r}")
    return "–" if value is None else str(value)


# -- formats ---------------------------------------------------------------------------------------------
def locale() -> Locale:
    return Locale.parse(_LOCALES[current_language()])


def number(value: float | int | None, digits: int = 0, signed: bool = False) -> str:
    """A number with the language's separators and exactly ``digits`` decimals ('–' when missing);
    ``signed``: with its sign, plus or minus (+0.012, -0.012)."""
    if _missing(value):
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    if signed:
        pattern = f"+{pattern};-{pattern}"
    return _babel_decimal(value, format=pattern, locale=locale())


def percent(value: float | None, digits: int = 1) -> str:
    """A share (0.25) as a percentage in the language's way (25.0%); '–' when missing."""
    if _missing(value):
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return _babel_percent(value, format=pattern, locale=locale())


def day(value: date | datetime) -> str:
    """A date as people write it: '2026년 10월 1일', '1 October 2026'."""
    return _babel_date(value, format="long", locale=locale())


def short_day(value: date | datetime) -> str:
    """A date on a chart's axis or in a table: '10. 1.', '1 Oct'."""
    return format_skeleton("MMMd", value, locale=locale())


def weekday(value: date | datetime) -> str:
    """A weekday's short name: '월', 'Mon'."""
    return _babel_date(value, format="EEE", locale=locale())


def month(value: date | datetime) -> str:
    """A month: '2026년 10월', 'October 2026'."""
    return format_skeleton("yMMMM", value, locale=locale())


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # NaN is never equal to itself


# -- catalog maintenance (python -m forgeline.i18n extract | update) -------------------------------------
def extract_template() -> Catalog:
    """The messages marked in the source, as Babel extracts them (what the catalogs must translate)."""
    from babel.messages.extract import extract_from_dir

    root = LOCALE_DIR.parents[1]
    catalog = Catalog(project="Forgeline", domain=DOMAIN, charset="utf-8")
    for folder in SOURCE_DIRS:
        for filename, lineno, message, comments, context in extract_from_dir(
            root / folder, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
        ):
            catalog.add(
                message,
                locations=[(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
                flags=() if isinstance(message, str) and "{" not in message else ("python-brace-format",),
            )
    return catalog


def format_fields(message: str) -> set[str]:
    """The ``str.format`` fields a message uses ({n}, {period}): a translation must use the same."""
    return {field for _text, field, _spec, _conv in string.Formatter().parse(message) if field is not None}


def update_catalogs() -> None:
    """Merge the source's messages into both catalogs: new ones come in untranslated (English: the source
    text), removed ones go. Then translate the new Korean entries by hand (a test lists any left empty)."""
    from babel.messages.pofile import write_po

    template = extract_template()
    for lang in LANGUAGES:
        path = catalog_path(lang)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=lang, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=DOMAIN, project="Forgeline", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # the header: Babel marks a new catalog's as unchecked
        catalog.project, catalog.version = "Forgeline", "1"
        catalog.msgid_bugs_address = ""
        catalog.last_translator = catalog.language_team = "Forgeline contributors"
        catalog.header_comment = (
            f"# Forgeline's messages in {Locale.parse(lang).english_name} (forgeline/i18n.py).\n"
            "# After changing messages in the source: python -m forgeline.i18n update"
        )
        if lang == "en":  # English is the source language: a new message is its own translation
            for message in catalog:
                strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
                if message.id and not any(strings):
                    message.string = message.id
        with path.open("wb") as handle:
            write_po(handle, catalog, width=110, sort_by_file=True, omit_header=False, include_lineno=False)


if __name__ == "__main__":
    if sys.argv[1:] != ["update"]:
        sys.exit("usage: python -m forgeline.i18n update   (merge the source's messages into the catalogs)")
    update_catalogs()
