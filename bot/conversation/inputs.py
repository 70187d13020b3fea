"""Typed answer parsers: a texter's words in, `Parsed`, `Rejected` or `Ambiguous` out.

People answer on a phone keyboard, in two languages, with typos; a garbled
answer is not an exception (STYLE 4.5): every parser returns a value and never
raises on text. What is saved is a fixed code or a plain value, never
translated text (rapidpro#1598). Rejection reasons are English msgids that the
engine translates.
"""
from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from dataclasses import dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from .. import geo
from ..i18n import N_, fold

MAX_TEXT = 1600
"""Twilio's longest inbound body; anything longer is cut before parsing."""


@dataclass(frozen=True)
class Parsed:
    """An accepted answer: the value to save, its category (what branches), the raw text."""

    value: Any
    category: str
    raw: str


@dataclass(frozen=True)
class Rejected:
    """A refused answer; `reason` is an English msgid the engine translates."""

    reason: str
    raw: str = ""


@dataclass(frozen=True)
class Ambiguous:
    """An answer that fits several places; the engine asks which one."""

    candidates: tuple[dict, ...]
    raw: str


@dataclass(frozen=True)
class Answer:
    """Everything a parser may look at: the text, a pin, attachments, language, now."""

    text: str
    now: float
    lang: str = "en"
    lat: float | None = None
    lon: float | None = None
    media: tuple[str, ...] = ()
    region: str = "US"
    bounds: tuple[float, float, float, float] | None = None
    places: str | None = None       # the coordinators' gazetteer (flows/places.yaml)

    @property
    def folded(self) -> str:
        return fold(self.text[:MAX_TEXT])


_APOSTROPHE_RE = re.compile(r"['’`´]")
_PUNCT_RE = re.compile(r"[^\w\s:/-]+")


def clean(text: str) -> str:
    """Fold a text for matching words: no case, accents, apostrophes ("don't" = "dont") or punctuation."""
    return " ".join(_PUNCT_RE.sub(" ", _APOSTROPHE_RE.sub("", fold(text))).split())


def split_words(words: str) -> list[str]:
    """Split a "1 | raid | redada" list into cleaned alternatives."""
    return list(_split_cached(words))


@functools.lru_cache(maxsize=4096)
def _split_cached(words: str) -> tuple[str, ...]:
    # Word lists are the same few hundred strings on every message: clean each once per process.
    return tuple(w for w in (clean(part) for part in words.split("|")) if w)
_TOKEN_RE = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(fold(text))


def _has_phrase(folded: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", folded) is not None


# ---- choice ----------------------------------------------------------------
def choice(answer: Answer, options: list[tuple[str, list[str]]], multiple: bool = False,
           scan: bool = False) -> Parsed | Rejected:
    """Pick option codes by number, word, phrase or a close misspelling.

    `options` is [(code, folded words)] with the caller's language and English
    merged (people code-switch). `scan` looks for a word inside a longer text
    (pre-filling from a first message) and never guesses misspellings.
    """
    folded = clean(answer.text[:MAX_TEXT])
    if not folded:
        return Rejected(N_("Please reply with one of the options."), answer.text)
    exact = {w: code for code, words in options for w in words}
    if not scan and folded in exact:
        return _picked([exact[folded]], multiple, answer.text)
    found: list[tuple[int, str]] = []
    # Longest phrases first so "not sure" wins over "no" (and "no se" over "no").
    for word in sorted(exact, key=len, reverse=True):
        if scan and word.isdigit():
            continue  # a number inside a sentence is a count or an address, not a menu pick
        for match in re.finditer(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", folded):
            found.append((match.start(), exact[word]))
        folded = re.sub(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", lambda m: " " * len(m.group(0)), folded)
    codes: list[str] = []
    for _, code in sorted(found):  # in the order the texter wrote them
        if code not in codes:
            codes.append(code)
    if not codes and not scan:
        vocabulary = [w for w in exact if len(w) >= 4 and not w.isdigit()]
        for token in _tokens(folded):
            if len(token) < 4:
                continue
            close = difflib.get_close_matches(token, vocabulary, n=1, cutoff=0.8)
            if close and exact[close[0]] not in codes:
                codes.append(exact[close[0]])
    if not codes:
        return Rejected(N_("Please reply with one of the options."), answer.text)
    return _picked(codes, multiple, answer.text)


def _picked(codes: list[str], multiple: bool, raw: str) -> Parsed | Rejected:
    if multiple:
        return Parsed(codes, codes[0], raw)
    if len(codes) > 1:
        return Rejected(N_("Please pick just one option."), raw)
    return Parsed(codes[0], codes[0], raw)


# ---- yes / no --------------------------------------------------------------
YES_WORDS = ("yes", "y", "yeah", "yep", "yup", "ya", "sure", "ok", "okay", "correct", "right",
             "si", "s", "claro", "correcto", "afirmativo", "simon", "sip", "dale", "de acuerdo")
NO_WORDS = ("no", "n", "nope", "nah", "not", "negative", "negativo", "nel", "para nada")
UNKNOWN_WORDS = ("not sure", "dont know", "don't know", "idk", "unsure", "maybe", "unknown",
                 "no se", "no lo se", "quien sabe", "tal vez", "quizas", "ns", "no estoy seguro",
                 "no estoy segura", "?")
"""Built-in yes/no/unknown words in English and Spanish (folded)."""


def yes_no(answer: Answer, unknown: bool = False, scan: bool = False) -> Parsed | Rejected:
    """Read yes, no (and optionally not sure) in English or Spanish."""
    options = [("yes", [clean(w) for w in YES_WORDS]), ("no", [clean(w) for w in NO_WORDS])]
    if unknown:
        options.insert(0, ("unknown", [clean(w) for w in UNKNOWN_WORDS if clean(w)]))
    result = choice(answer, options, scan=scan)
    if isinstance(result, Rejected):
        return Rejected(N_("Please reply YES or NO."), answer.text)
    return result


# ---- numbers ---------------------------------------------------------------
UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "a": 1, "an": 1, "a couple": 2, "couple": 2, "a dozen": 12, "dozen": 12,
    "cero": 0, "uno": 1, "un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
    "trece": 13, "catorce": 14, "quince": 15, "dieciseis": 16, "diecisiete": 17,
    "dieciocho": 18, "diecinueve": 19, "veintiuno": 21, "veintiun": 21, "veintidos": 22,
    "veintitres": 23, "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26,
    "veintisiete": 27, "veintiocho": 28, "veintinueve": 29, "un par": 2, "par": 2,
    "una docena": 12, "docena": 12,
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90, "veinte": 20, "treinta": 30, "cuarenta": 40,
        "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90,
        "hundred": 100, "cien": 100, "a hundred": 100}
"""Number words up to a hundred in English and Spanish; bigger crowds are typed as digits."""

_NUM_TOKEN_RE = re.compile(r"\d+|[a-z]+")
_SOLO_ARTICLES = {"a", "an", "un", "una"}


def find_numbers(text: str) -> list[int]:
    """Return the whole numbers written in a text, as digits or words, in order."""
    tokens = _NUM_TOKEN_RE.findall(fold(text))
    out: list[int] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        pair = f"{tok} {tokens[i + 1]}" if i + 1 < len(tokens) else ""
        if tok.isdigit():
            out.append(int(tok))
            i += 1
            continue
        if pair in UNITS or pair in TENS:
            out.append(UNITS.get(pair, TENS.get(pair, 0)))
            i += 2
            continue
        if tok in TENS:
            value = TENS[tok]
            j = i + 1
            if j < len(tokens) and tokens[j] in ("y", "and") and j + 1 < len(tokens):
                j += 1
            if j < len(tokens) and tokens[j] in UNITS and UNITS[tokens[j]] < 10 \
                    and tokens[j] not in _SOLO_ARTICLES:
                value += UNITS[tokens[j]]
                i = j + 1
            else:
                i += 1
            out.append(value)
            continue
        if tok in UNITS and tok not in _SOLO_ARTICLES:
            out.append(UNITS[tok])
        elif tok in _SOLO_ARTICLES and i + 1 < len(tokens) and tokens[i + 1] in (
                "agent", "officer", "car", "van", "truck", "agente", "oficial", "carro", "camioneta"):
            out.append(1)
        i += 1
    return out


def number(answer: Answer, min: float | None = None, max: float | None = None,
           count: int = 1, scan: bool = False) -> Parsed | Rejected:
    """Read one number (or the first `count` numbers) written as digits or words."""
    found = find_numbers(answer.text[:MAX_TEXT])
    if not found:
        return Rejected(N_("Please reply with a number, like 3."), answer.text)
    values = found[:count]
    for value in values:
        if (min is not None and value < min) or (max is not None and value > max):
            return Rejected(N_("That number looks out of range. Please reply with a number."),
                            answer.text)
    if count == 1:
        return Parsed(values[0], "number", answer.text)
    values += [None] * (count - len(values))
    return Parsed(values, "number", answer.text)


# ---- date and time ---------------------------------------------------------
NOW_WORDS = ("now", "right now", "just now", "happening now", "currently", "ahora", "ahorita",
             "ahora mismo", "ya", "en este momento", "justo ahora", "now now")
_AGO_RE = re.compile(
    r"(?:(?P<n>\d+|[a-z]+(?: y [a-z]+)?)\s*(?P<u>min|mins|minute|minutes|m|hr|hrs|hour|hours|h)\s*ago)"
    r"|(?:hace\s+(?P<n2>\d+|[a-z]+(?: y [a-z]+)?)\s*(?P<u2>min|mins|minuto|minutos|m|hr|hrs|hora|horas|h))")
_HALF_RE = re.compile(r"\b(half an hour ago|hace media hora|media hora)\b")
_CLOCK_RE = re.compile(r"(?<![\d:])(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ap>a\.?m\.?|p\.?m\.?)?(?![\d:])")


def _ago_seconds(folded: str) -> int | None:
    if _HALF_RE.search(folded):
        return 1800
    match = _AGO_RE.search(folded)
    if not match:
        return None
    n_raw = match.group("n") or match.group("n2")
    unit = match.group("u") or match.group("u2")
    numbers = find_numbers(n_raw) if not n_raw.isdigit() else [int(n_raw)]
    if not numbers and n_raw in ("un", "una", "an", "a"):
        numbers = [1]
    if not numbers:
        return None
    per = 3600 if unit.startswith("h") else 60
    return numbers[0] * per


def _zone(name: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(name) if name else dt.timezone.utc
    except (ZoneInfoNotFoundError, ValueError):  # a bad zone name is caught by the check
        return dt.timezone.utc


def datetime(answer: Answer, past_only: bool = True, max_age: str | None = None,
             timezone: str | None = None, scan: bool = False) -> Parsed | Rejected:
    """Read "now", "20 min ago", "hace 20 minutos" or a clock time like "3:15pm"; save epoch seconds."""
    from .loader import parse_duration  # the loader owns the duration syntax
    folded = answer.folded
    limit = parse_duration(max_age) if max_age else 24 * 3600
    ago = _ago_seconds(folded)
    if ago is not None:
        if ago > limit:
            return Rejected(N_("That is too long ago. When did it start?"), answer.text)
        return Parsed(int(answer.now - ago), "past", answer.text)
    for word in sorted((fold(w) for w in NOW_WORDS), key=len, reverse=True):
        if (folded == word) or (len(word) > 2 and _has_phrase(folded, word)) or \
                (word == "ya" and not scan and folded == "ya"):
            return Parsed(int(answer.now), "now", answer.text)
    clock = _clock(folded, scan)
    if clock is not None:
        hour, minute = clock
        zone = _zone(timezone)
        local_now = dt.datetime.fromtimestamp(answer.now, zone)
        candidates = []
        hours = [hour] if hour > 12 or hour == 0 or clock_has_ampm(folded) else [hour, hour + 12 if hour < 12 else 0]
        for h in hours:
            for day in (0, -1):
                at = (local_now + dt.timedelta(days=day)).replace(hour=h % 24, minute=minute,
                                                                   second=0, microsecond=0)
                if at.timestamp() <= answer.now + 600:  # ten minutes of clock skew is "now"
                    candidates.append(at.timestamp())
        if not candidates:
            return Rejected(N_("Please say when, like: now, 20 min ago, or 3:15pm."), answer.text)
        best = max(candidates)  # the most recent past moment that fits
        if answer.now - best > limit:
            return Rejected(N_("That is too long ago. When did it start?"), answer.text)
        return Parsed(int(min(best, answer.now)), "past", answer.text)
    return Rejected(N_("Please say when, like: now, 20 min ago, or 3:15pm."), answer.text)


def clock_has_ampm(folded: str) -> bool:
    match = _CLOCK_RE.search(folded)
    return bool(match and match.group("ap"))


def _clock(folded: str, scan: bool) -> tuple[int, int] | None:
    for match in _CLOCK_RE.finditer(folded):
        hour = int(match.group("h"))
        minute = int(match.group("m") or 0)
        ap = (match.group("ap") or "").replace(".", "")
        if not match.group("m") and not ap:
            # a bare number is a clock time only after "at"/"a las" ("a las 3"), or alone
            before = folded[:match.start()].rstrip()
            if not (before.endswith(("at", "a las", "a la", "since", "desde las")) or
                    (not scan and folded.strip() == match.group(0).strip())):
                continue
        if hour > 23 or minute > 59 or (ap and not 1 <= hour <= 12):
            continue
        if ap == "pm" and hour != 12:
            hour += 12
        elif ap == "am" and hour == 12:
            hour = 0
        return hour, minute
    return None


# ---- location ----------------------------------------------------------------
_PLACE_LEAD_RE = re.compile(r"\b(?:en|at|on|in|near|by|cerca de|por|sobre|frente a)\s+(.+)$")
_TIME_TAIL_RE = re.compile(r"\s+(?:ahora|ahorita|now|right now|hace .*|\d+\s*min.*|just now)$")


def location(answer: Answer, scan: bool = False) -> Parsed | Rejected | Ambiguous:
    """Place a pin, coordinates, a ZIP, an address or cross streets with geo.locate."""
    text = answer.text[:MAX_TEXT]
    tries = [text]
    if scan:
        folded = fold(text)
        match = _PLACE_LEAD_RE.search(folded)
        tries = [_TIME_TAIL_RE.sub("", match.group(1)).strip()] if match else []
    if answer.lat is not None and answer.lon is not None:
        tries = [text or ""]
    for attempt in tries:
        found = geo.locate(attempt, lat=answer.lat, lon=answer.lon, bounds=answer.bounds,
                           places=answer.places)
        if found is None:
            continue
        candidates = getattr(found, "candidates", ()) or ()
        if len(candidates) > 1:
            if scan:
                return Rejected(N_("I couldn't place that."), answer.text)
            return Ambiguous(tuple(_location_dict(c) for c in candidates[:4]), answer.text)
        return Parsed(_location_dict(found), found.precision, answer.text)
    return Rejected(N_("I couldn't place that. Try cross streets like 'Pacific and Florence', "
                       "a ZIP code, or share a location pin."), answer.text)


def _location_dict(found: Any) -> dict:
    if isinstance(found, dict):
        return {k: found[k] for k in ("lat", "lon", "precision", "precision_m", "label", "source")
                if k in found}
    return found.as_dict() if hasattr(found, "as_dict") else dict(found)


# ---- phone, media, text ------------------------------------------------------
def phone(answer: Answer, region: str | None = None, scan: bool = False) -> Parsed | Rejected:
    """Read a phone number with phonenumbers; the value is E.164 (the engine seals it)."""
    text = answer.text[:64]
    for match in phonenumbers.PhoneNumberMatcher(text, region or answer.region):
        if phonenumbers.is_valid_number(match.number):
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            return Parsed(e164, "phone", "")  # never keep a number as raw text
    return Rejected(N_("Please send a phone number, like 213 555 0123."), "")


def media(answer: Answer, skip: list[str] | None = None, scan: bool = False) -> Parsed | Rejected:
    """Take the photos or files sent with the message, or a word that means none."""
    if answer.media:
        return Parsed(list(answer.media), "media", answer.text)
    if skip and answer.folded in skip:
        return Parsed([], "skipped", answer.text)
    return Rejected(N_("Please send a photo, or reply SKIP."), answer.text)


def text(answer: Answer, max_length: int | None = None, skip: list[str] | None = None,
         pattern: str | None = None, scan: bool = False) -> Parsed | Rejected:
    """Take free text (trimmed), a word that means none, or the part matching `pattern`."""
    body = " ".join(answer.text[:MAX_TEXT].split())
    if skip and fold(body) in skip:
        return Parsed("", "skipped", answer.text)
    if pattern:
        match = re.search(pattern, body)
        if match is None:
            return Rejected(N_("Please check the format and try again."), answer.text)
        return Parsed(match.group(0), "text", answer.text)
    if not body:
        return Rejected(N_("Please reply with a few words."), answer.text)
    if max_length and len(body) > max_length:
        body = body[:max_length]
    return Parsed(body, "text", answer.text)


PARSERS: dict[str, Callable[..., Parsed | Rejected | Ambiguous]] = {
    "choice": choice, "yes_no": yes_no, "number": number, "datetime": datetime,
    "location": location, "phone": phone, "media": media, "text": text,
}
"""Expect kind → parser; each takes an Answer plus the kind's options."""
