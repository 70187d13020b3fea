"""Numbers and times as people text them, in English and Spanish: "cinco", "hace 20 minutos", "3:15pm".

Parsers in the inputs.py style: they return Parsed or Rejected and never raise.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..i18n import N_, fold
from .answers import MAX_TEXT, Answer, Parsed, Rejected, has_phrase, parse_duration

UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "a": 1,
    "an": 1,
    "a couple": 2,
    "couple": 2,
    "a dozen": 12,
    "dozen": 12,
    "cero": 0,
    "uno": 1,
    "un": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "quince": 15,
    "dieciseis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veintiuno": 21,
    "veintiun": 21,
    "veintidos": 22,
    "veintitres": 23,
    "veinticuatro": 24,
    "veinticinco": 25,
    "veintiseis": 26,
    "veintisiete": 27,
    "veintiocho": 28,
    "veintinueve": 29,
    "un par": 2,
    "par": 2,
    "una docena": 12,
    "docena": 12,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "veinte": 20,
    "treinta": 30,
    "cuarenta": 40,
    "cincuenta": 50,
    "sesenta": 60,
    "setenta": 70,
    "ochenta": 80,
    "noventa": 90,
    "hundred": 100,
    "cien": 100,
    "a hundred": 100,
}
"""Number words up to a hundred in English and Spanish; bigger crowds are typed as digits."""

_NUMBER_TOKEN_RE = re.compile(r"\d+|[a-z]+")
_SOLO_ARTICLES = {"a", "an", "un", "una"}


def find_numbers(text: str) -> list[int]:
    """Return the whole numbers written in a text, as digits or words, in order."""
    return [value for value, _ in _numbers_at(_NUMBER_TOKEN_RE.findall(fold(text)))]


PEOPLE_WORDS = frozenset(
    "agents agent officers officer cops cop agentes agente oficiales oficial policias policia migras".split()
)
"""Words after a number that make it a count of agents ("5 agentes"); not "guys", "men" or "señores":
in a sighting those are usually the people being detained."""

VEHICLE_WORDS = frozenset(
    "cars car vans van trucks truck suvs suv vehicles vehicle suburbans suburban pickups pickup buses bus "
    "carros carro camionetas camioneta trocas troca vehiculos vehiculo patrullas patrulla autos auto".split()
)
"""Words after a number that make it a count of vehicles ("two vans", "3 unmarked SUVs")."""

_BETWEEN = 2
"""Words that may sit between a number and its noun ("3 unmarked black SUVs")."""


def find_counts(text: str) -> tuple[int | None, int | None, list[int]]:
    """Return (agents, vehicles, other numbers) from a text: each number counts what the noun after it names."""
    tokens = _NUMBER_TOKEN_RE.findall(fold(text))
    agents = vehicles = None
    loose: list[int] = []
    for value, end in _numbers_at(tokens):
        noun = None
        for t in tokens[end : end + _BETWEEN + 1]:
            if t.isdigit() or t in UNITS or t in TENS:
                break  # the next number owns what follows ("90255, como 5 agentes")
            if t in PEOPLE_WORDS or t in VEHICLE_WORDS:
                noun = t
                break
        if noun in PEOPLE_WORDS and agents is None:
            agents = value
        elif noun in VEHICLE_WORDS and vehicles is None:
            vehicles = value
        else:
            loose.append(value)
    return agents, vehicles, loose


def _numbers_at(tokens: list[str]) -> list[tuple[int, int]]:
    """Return (number, index of the token after it) for each number written in tokens."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        pair = f"{tok} {tokens[i + 1]}" if i + 1 < len(tokens) else ""
        if tok.isdigit():
            out.append((int(tok), i + 1))
            i += 1
            continue
        if pair in UNITS or pair in TENS:
            out.append((UNITS.get(pair, TENS.get(pair, 0)), i + 2))
            i += 2
            continue
        if tok in TENS:
            value = TENS[tok]
            j = i + 1
            if j < len(tokens) and tokens[j] in ("y", "and") and j + 1 < len(tokens):
                j += 1
            if j < len(tokens) and tokens[j] in UNITS and UNITS[tokens[j]] < 10 and tokens[j] not in _SOLO_ARTICLES:
                value += UNITS[tokens[j]]
                i = j + 1
            else:
                i += 1
            out.append((value, i))
            continue
        if tok in UNITS and tok not in _SOLO_ARTICLES:
            out.append((UNITS[tok], i + 1))
        elif (
            tok in _SOLO_ARTICLES
            and i + 1 < len(tokens)
            and tokens[i + 1] in ("agent", "officer", "car", "van", "truck", "agente", "oficial", "carro", "camioneta")
        ):
            out.append((1, i + 1))
        i += 1
    return out


def number(
    answer: Answer,
    min: float | None = None,
    max: float | None = None,
    count: int = 1,
    skip: list[str] | None = None,
    scan: bool = False,
) -> Parsed | Rejected:
    """Read one number (or the first `count` numbers) written as digits or words, or a word that means none."""
    text = answer.text[:MAX_TEXT]
    if skip and not scan and answer.folded in skip:
        return Parsed(None, "skipped", answer.text)
    if count == 2:
        # Two counts (agents, vehicles): a number followed by a vehicle word is the second one
        # ("two vans"); in a first text only numbers with such a word count (not "2 guys", not an address).
        agents, vehicles, loose = find_counts(text)
        if agents is None and vehicles is None and scan:
            return Rejected(N_("Please reply with a number, like 3."), answer.text)
        if agents is not None or vehicles is not None:
            if not scan:
                if agents is None and loose and vehicles is not None:
                    agents = loose.pop(0)
                elif vehicles is None and loose and agents is not None:
                    vehicles = loose.pop(0)
            for value in (agents, vehicles):
                if value is not None and ((min is not None and value < min) or (max is not None and value > max)):
                    return Rejected(N_("That number looks out of range. Please reply with a number."), answer.text)
            return Parsed([agents, vehicles], "number", answer.text)
    found = find_numbers(text)
    if not found or (scan and count == 1):
        return Rejected(N_("Please reply with a number, like 3."), answer.text)
    values = found[:count]
    for value in values:
        if (min is not None and value < min) or (max is not None and value > max):
            return Rejected(N_("That number looks out of range. Please reply with a number."), answer.text)
    if count == 1:
        return Parsed(values[0], "number", answer.text)
    padded: list[int | None] = [*values, *[None] * (count - len(values))]  # "4 agents": vehicles unknown
    return Parsed(padded, "number", answer.text)


# ---- date and time ---------------------------------------------------------
NOW_WORDS = (
    "now",
    "right now",
    "just now",
    "happening now",
    "currently",
    "ahora",
    "ahorita",
    "orita",
    "horita",
    "ahora mismo",
    "rn",
    "ya",
    "en este momento",
    "justo ahora",
    "now now",
)
_HEDGE = r"(?:(?:como|unos|unas|casi|like|about|around|maybe|almost|approx)\s+)?"
"""A guess in front of the number ("hace como 10 min", "like 20 min ago") is still the number."""
_AGO_RE = re.compile(
    r"(?:" + _HEDGE + r"(?P<n>\d+|[a-z]+(?: y [a-z]+)?)\s*(?P<u>min|mins|minute|minutes|m|hr|hrs|hour|hours|h)\s*ago)"
    r"|(?:hace\s+"
    + _HEDGE
    + r"(?P<n2>\d+|[a-z]+(?: y [a-z]+)?)\s*(?P<u2>min|mins|minuto|minutos|m|hr|hrs|hora|horas|h))"
)
_HALF_RE = re.compile(r"\b(half an hour ago|hace media hora|media hora)\b")
CLOCK_SKEW_S = 600
"""A clock time up to ten minutes ahead of ours is "now": phones' clocks and people round."""

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


def zone(name: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(name) if name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):  # a bad zone name is caught by the check
        return dt.UTC


def datetime(
    answer: Answer, past_only: bool = True, max_age: str | None = None, timezone: str | None = None, scan: bool = False
) -> Parsed | Rejected:
    """Read "now", "20 min ago", "hace 20 minutos" or a clock time like "3:15pm"; save epoch seconds.

    A clock time is the most recent past moment it fits (`past_only`, the default:
    a sighting started before it is reported); with `past_only: false` it is the
    moment nearest to now, so "at 5pm" asked at noon is today at 5pm (category `future`).
    """
    folded = answer.folded
    limit = (parse_duration(max_age) if max_age else None) or 24 * 3600  # the loader refused a bad max_age
    ago = _ago_seconds(folded)
    if ago is not None:
        if ago > limit:
            return Rejected(N_("That is too long ago. When did it start?"), answer.text)
        return Parsed(int(answer.now - ago), "past", answer.text)
    for word in sorted((fold(w) for w in NOW_WORDS), key=len, reverse=True):
        if (
            (folded == word)
            or (len(word) > 2 and has_phrase(folded, word))
            or (word == "ya" and not scan and folded == "ya")
        ):
            return Parsed(int(answer.now), "now", answer.text)
    clock = _clock(folded, scan)
    if clock is not None:
        hour, minute = clock
        zone_ = zone(timezone)
        local_now = dt.datetime.fromtimestamp(answer.now, zone_)
        candidates = []
        hours = [hour] if hour > 12 or hour == 0 or clock_has_ampm(folded) else [hour, hour + 12 if hour < 12 else 0]
        for h in hours:
            for day in (0, -1) if past_only else (0, -1, 1):
                at = (local_now + dt.timedelta(days=day)).replace(hour=h % 24, minute=minute, second=0, microsecond=0)
                if not past_only or at.timestamp() <= answer.now + CLOCK_SKEW_S:
                    candidates.append(at.timestamp())
        if not candidates:
            return Rejected(N_("Please say when, like: now, 20 min ago, or 3:15pm."), answer.text)
        if past_only:
            best = max(candidates)  # the most recent past moment that fits
        else:  # a time that may be coming ("at 5"): the moment nearest to now, before or after
            best = min(candidates, key=lambda at: abs(at - answer.now))
        if answer.now - best > limit:
            return Rejected(N_("That is too long ago. When did it start?"), answer.text)
        if best > answer.now + CLOCK_SKEW_S:
            return Parsed(int(best), "future", answer.text)
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
            before = folded[: match.start()].rstrip()
            if not (
                before.endswith(("at", "a las", "a la", "since", "desde las"))
                or (not scan and folded.strip() == match.group(0).strip())
            ):
                continue
        if hour > 23 or minute > 59 or (ap and not 1 <= hour <= 12):
            continue
        if ap == "pm" and hour != 12:
            hour += 12
        elif ap == "am" and hour == 12:
            hour = 0
        return hour, minute
    return None
