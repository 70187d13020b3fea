"""Translations (Babel/gettext), language choice and localized text.

English is the source language: the English text *is* the msgid, and other
languages come from `locales/<lang>/LC_MESSAGES/messages.po`. Catalogs are read
from the .po files and compiled in memory with Babel (cached by mtime, looked
at no more than once a second per catalog: a stat on every text was measurable
on the webhook), so a coordinator's `pybabel update` takes effect without a
separate build step;
`pybabel compile` still works for deployments that ship .mo files.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
import unicodedata
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.support import NullTranslations, Translations

from . import text as text_rules

log = logging.getLogger(__name__)

SOURCE_LANGUAGE = "en"
"""The language flows and code are written in; its catalog is the identity."""

DOMAIN = "messages"
"""The one gettext domain for flows and code strings."""

CHECK_INTERVAL_S = 1.0
"""Look at a catalog's mtime at most this often."""

_cache: dict[tuple[str, str], tuple[float, NullTranslations, int]] = {}
_checked: dict[tuple[str, str], tuple[float, NullTranslations]] = {}  # time.monotonic() of the last look, answer
_cache_lock = threading.Lock()


def expire_checks() -> None:
    """Make the next translations() look at the catalogs on disk (after one was saved in this process)."""
    with _cache_lock:
        _checked.clear()


def catalog_path(locales_dir: str, lang: str) -> Path:
    return Path(locales_dir) / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(locales_dir: str, lang: str) -> NullTranslations:
    """Return the gettext translations for a language (identity for English or no catalog)."""
    if lang == SOURCE_LANGUAGE:
        return NullTranslations()
    clock = time.monotonic()
    seen = _checked.get((locales_dir, lang))
    if seen is not None and clock - seen[0] < CHECK_INTERVAL_S:
        return seen[1]
    result = _translations(locales_dir, lang)
    with _cache_lock:
        _checked[(locales_dir, lang)] = (clock, result)
    return result


_PO_LINE_RE = re.compile(r'^(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?"(?:[^"\\]|\\.)*"\s*$')


def po_syntax_errors(text: str) -> list[tuple[int, str]]:
    """Return (line, problem) for each line of a .po file that is not a comment, blank or a whole quoted string.

    Hand-written because Babel's reader accepts an unterminated string and
    silently drops its last character: the live text would be cut.
    """
    errors = []
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not _PO_LINE_RE.match(stripped):
            errors.append((n, "not a keyword and one whole quoted string (a missing or extra quote?)"))
    return errors


def _translations(locales_dir: str, lang: str) -> NullTranslations:
    """Return the catalog of lang as it is on disk now (compiled again only when its mtime changed)."""
    path = catalog_path(locales_dir, lang)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return NullTranslations()
    key = (str(path), lang)
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] == mtime:
            return hit[1]
    try:
        raw = path.read_bytes()
        broken = po_syntax_errors(raw.decode("utf-8"))
        if broken:
            raise ValueError(f"line {broken[0][0]}: {broken[0][1]}")
        catalog = read_po(io.BytesIO(raw), locale=lang, abort_invalid=True)
        translated = sum(1 for m in catalog if m.id and m.string)
        if hit and translated < hit[2] // 2:
            raise ValueError(f"only {translated} of {hit[2]} translations left")
        buf = io.BytesIO()
        write_mo(buf, catalog, use_fuzzy=False)  # a fuzzy entry is not a translation yet
    except (OSError, PoFileError, ValueError, UnknownLocaleError) as exc:
        # A catalog saved half-way (or broken by hand) never replaces the working one.
        log.error("keeping the previous %s catalog: %s", lang, exc)
        if hit:
            with _cache_lock:
                _cache[key] = (mtime, hit[1], hit[2])
            return hit[1]
        return NullTranslations()
    buf.seek(0)
    result = Translations(buf, domain=DOMAIN)
    with _cache_lock:
        _cache[key] = (mtime, result, translated)
    return result


def gettext(locales_dir: str, lang: str, msgid: str, **values) -> str:
    """Translate a code string into lang and fill its {placeholders}."""
    text = translations(locales_dir, lang).gettext(msgid)
    return text.format(**values) if values else text


def pgettext(locales_dir: str, lang: str, context: str, msgid: str, **values) -> str:
    """Translate a string with a context (flow.step.field) into lang."""
    text = translations(locales_dir, lang).pgettext(context, msgid)
    return text.format(**values) if values else text


def language_name(lang: str, in_lang: str = SOURCE_LANGUAGE) -> str:
    """A language's name in another language ("es" in English: "Spanish"), from Babel's CLDR data."""
    try:
        return Locale.parse(lang).get_display_name(in_lang) or lang
    except (ValueError, UnknownLocaleError):
        return lang


def N_(msgid: str) -> str:
    """Mark a string for extraction without translating it here."""
    return msgid


def ascii_digits(text: str) -> str:
    """Write every Unicode decimal digit (９, 𝟗, ٩, ९ ...) as its ASCII digit; leave everything else.

    Python's `\\d` matches all of them, so a parser that found "９０２５５" would hand
    it to a library expecting ASCII (the `zipcodes` native code panics on it). Phones
    with an Arabic, Devanagari or full-width keyboard send these; the meaning is the
    same number, so the router rewrites them once, before anything reads the text.
    """
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text)


fold = text_rules.fold
"""Lower-case, strip accents and collapse spaces (one rule for every matcher: `bot/text.py`)."""


SPANISH_HINTS = frozenset(
    "hola hay migra esta estan en la el los las una uno que donde ahora hace minutos "
    "por favor ayuda gracias esquina calle y con de agentes carros redada retén reten "
    "buenos buenas dias tardes noches quiero necesito si no se vi veo aqui alli cerca "
    "alertas alerta derechos reporte reportar borrar ayuda camioneta camionetas".split()
)
"""Common Spanish words in a first text; English words of the same spelling are left out."""

ENGLISH_HINTS = frozenset(
    "hi hello there is are the at on near now ago minutes please help thanks corner street "
    "and with of agents cars raid checkpoint i see want need yes here".split()
)
"""Common English words in a first text."""

_WORD_RE = re.compile(r"[a-z]+")


def detect_language(text: str, default: str = SOURCE_LANGUAGE) -> str:
    """Guess English or Spanish from a first message by counting common words."""
    words = _WORD_RE.findall(fold(text or ""))
    if not words:
        return default
    if any(ch in (text or "") for ch in "¿¡ñÑ"):
        return "es"
    spanish = sum(1 for w in words if w in SPANISH_HINTS)
    english = sum(1 for w in words if w in ENGLISH_HINTS)
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return default


def local_time(settings, epoch: float, lang: str, seconds: bool = False, day: bool = False, tz: str = "") -> str:
    """Format a moment in the network's time zone (HOTLINE_TIMEZONE) for a language: "8:02 AM PST", "8:02 p. m."

    Babel's format_time/format_datetime: never a raw epoch or a bare UTC "Z" for people to convert.
    """
    moment = datetime.fromtimestamp(float(epoch), ZoneInfo(tz or settings.timezone))
    locale = lang or SOURCE_LANGUAGE
    # English has short zone names ("PST"); CLDR's Spanish has none (it would print "-0800"): local time alone.
    clock = "h:mm:ss a" if seconds else "h:mm a"
    pattern = clock + " z" if locale == SOURCE_LANGUAGE else clock.replace("h:", "H:").replace(" a", "")
    if day:
        return format_datetime(moment, "EEE " + pattern, locale=locale)
    return format_time(moment, pattern, locale=locale)
