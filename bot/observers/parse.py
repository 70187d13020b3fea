"""Reading a roster row: phone numbers, languages, places, radius, skills and weekly shifts.

Pure validation (no Redis): each problem is a ValueError naming the field, so
`hotline observers import` can report every bad row by its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from .. import geo
from .. import text as text_rules

REQUIRED_COLUMNS = ("name", "phone", "languages", "location", "radius_km", "on_call")
"""The roster columns fixed in docs/interfaces.md; `skills`, `shifts` and `timezone` are optional."""

SKILLS = ("legal_observer", "attorney", "interpreter", "media")
"""What a volunteer can do on scene (the roster's `skills` column, `;`-separated)."""

MAX_RADIUS_KM = 150.0
"""Nobody drives further than this to a scene; a larger radius is a typo."""

DEFAULT_TIMEZONE = "UTC"
"""Time zone of shifts when the roster names none (coordinators should name one)."""

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names of a shift, Monday first as `datetime.weekday()` counts."""

_SPANISH_DAYS = {"lun": "mon", "mar": "tue", "mie": "wed", "jue": "thu", "vie": "fri", "sab": "sat", "dom": "sun"}
_YES = {"yes", "y", "si", "true", "1", "x"}
_NO = {"no", "n", "false", "0", ""}
_SHIFT_RE = re.compile(r"^\s*([a-z*,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Shift:
    """One weekly on-duty window: a weekday and minutes from local midnight (end may pass 24h)."""

    day: int
    start_min: int
    end_min: int


_fold = text_rules.fold
"""Lower-case and strip accents, so `Sí` and `si` read the same (`bot/text.py`)."""


def parse_phone(raw: str, region: str) -> str:
    """Return a number as E.164, or raise ValueError saying why it is not one."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"phone {raw.strip()!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"phone {raw.strip()!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _days(spec: str) -> list[int]:
    if spec in ("*", "daily", "diario"):
        return list(range(7))
    found: list[int] = []
    for part in spec.split(","):
        ends = [_SPANISH_DAYS.get(p[:3], p[:3]) for p in part.split("-")]
        if not all(e in DAYS for e in ends) or len(ends) > 2:
            raise ValueError(f"unknown day {part!r} (use mon..sun, mon-fri, daily)")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        found.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
    return found


def parse_shifts(text: str) -> list[Shift]:
    """Parse `mon-fri 18:00-23:00; sat 08:00-20:00` into weekly shifts (ValueError if malformed).

    An end before the start runs past midnight (`fri 22:00-06:00`).
    """
    shifts: list[Shift] = []
    for item in re.split(r"[;\n]", _fold(text)):
        if not item.strip():
            continue
        match = _SHIFT_RE.match(item)
        if not match:
            raise ValueError(f"shift {item.strip()!r} is not like 'mon-fri 18:00-23:00'")
        spec, h1, m1, h2, m2 = match.groups()
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        if int(h1) > 23 or int(h2) > 24 or int(m1) > 59 or int(m2) > 59:
            raise ValueError(f"shift {item.strip()!r} has an impossible time")
        if end <= start:
            end += 24 * 60
        shifts.extend(Shift(day, start, end) for day in _days(spec))
    return shifts


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip() or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name.strip()!r} is not a known time zone (like America/Los_Angeles)") from None


def parse_row(row: dict, settings) -> dict:
    """Validate one roster row into the fields stored for an observer (ValueError on the first problem)."""
    name = (row.get("name") or "").strip()
    if not name:
        raise ValueError("name is empty")
    e164 = parse_phone(row.get("phone") or "", settings.default_region)
    langs = [_fold(x) for x in re.split(r"[;,/ ]+", row.get("languages") or "") if x.strip()]
    offered = [x for x in langs if x in settings.languages]
    if not offered:
        raise ValueError(f"languages {row.get('languages', '')!r} names none of {';'.join(settings.languages)}")
    place = geo.locate(row.get("location") or "", bounds=settings.bounds)
    if place is None:
        raise ValueError(f"location {row.get('location', '')!r} is not lat,lon, a ZIP code or a known place")
    try:
        radius_km = float((row.get("radius_km") or "").strip())
    except ValueError:
        raise ValueError(f"radius_km {row.get('radius_km', '')!r} is not a number") from None
    if not 0 < radius_km <= MAX_RADIUS_KM:
        raise ValueError(f"radius_km must be between 0 and {MAX_RADIUS_KM:g}, got {radius_km:g}")
    on_call = _fold(row.get("on_call") or "")
    if on_call not in _YES | _NO:
        raise ValueError(f"on_call must be yes or no, got {row.get('on_call')!r}")
    skills = [_fold(s).replace(" ", "_") for s in re.split(r"[;,]+", row.get("skills") or "") if s.strip()]
    unknown = [s for s in skills if s not in SKILLS]
    if unknown:
        raise ValueError(f"skills {', '.join(unknown)!r} unknown (use {';'.join(SKILLS)})")
    shifts_text = (row.get("shifts") or "").strip()
    parse_shifts(shifts_text)
    tz = (row.get("timezone") or "").strip() or DEFAULT_TIMEZONE
    _timezone(tz)
    return {
        "e164": e164,
        "name": name,
        "languages": ",".join(offered),
        "lat": place.lat,
        "lon": place.lon,
        "place": place.label,
        "radius_km": radius_km,
        "on_call": "1" if on_call in _YES else "0",
        "skills": ",".join(skills or ["legal_observer"]),
        "shifts": shifts_text,
        "timezone": tz,
    }
