"""The observer roster: who the legal observers are, where, in which languages, and when on duty.

Dispatch must ask only people who are on duty and near; this module owns the
data that answers "who is that right now" (a hash per observer, a GEO index of
home locations, weekly shifts with a time zone plus ON/OFF overrides by text)
and never decides dispatch order. Numbers are kept only sealed.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from . import geo, privacy, store

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

JOIN_CODE_TTL_S = 7 * 24 * 3600
"""A coordinator's join code works for a week, then must be issued again."""


@dataclass
class ImportResult:
    """How many roster rows were upserted, and each bad row's line and problem."""

    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Shift:
    """One weekly on-duty window: a weekday and minutes from local midnight (end may pass 24h)."""

    day: int
    start_min: int
    end_min: int


# ---- parsing -----------------------------------------------------------------
def _fold(text: str) -> str:
    """Lower-case and strip accents, so `Sí` and `si` read the same."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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


# ---- storage -----------------------------------------------------------------
def observer_id_for(settings, e164: str) -> str:
    """Return the id an observer is known by: the contact id of their number."""
    return privacy.contact_id(settings.secret, e164)


def upsert(r, settings, fields: dict, now: float) -> str:
    """Store one validated observer (sealing the number) and index it; return its id."""
    values = dict(fields)
    e164 = values.pop("e164")
    observer_id = observer_id_for(settings, e164)
    values.update(phone=privacy.seal(settings.secret, e164), updated_at=f"{now:.3f}")
    pipe = r.pipeline(transaction=True)
    pipe.hdel(store.observer_key(observer_id), "unreachable")  # a re-import is a coordinator's fix
    pipe.hset(store.observer_key(observer_id), mapping={k: str(v) for k, v in values.items()})
    pipe.geoadd(store.observers_geo_key(), (float(values["lon"]), float(values["lat"]), observer_id))
    pipe.sadd(store.observers_all_key(), observer_id)
    pipe.zadd(store.observers_radius_key(), {observer_id: float(values["radius_km"])})
    pipe.execute()
    return observer_id


def import_csv(r, settings, path, now: float | None = None) -> ImportResult:
    """Upsert every good roster row of a CSV file; report each bad row by its line number."""
    import time

    now = time.time() if now is None else now
    result = ImportResult()
    seen: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            result.errors.append((1, f"missing column(s): {', '.join(missing)}"))
            return result
        reader.fieldnames = header
        for row in reader:
            line = reader.line_num
            if not any((v or "").strip() for k, v in row.items() if k):
                continue  # a blank line is not a bad row
            try:
                fields = parse_row(row, settings)
            except ValueError as exc:  # one bad row must not stop the good ones
                result.errors.append((line, str(exc)))
                continue
            if fields["e164"] in seen:
                result.errors.append((line, f"phone repeats line {seen[fields['e164']]}"))
                continue
            seen[fields["e164"]] = line
            upsert(r, settings, fields, now)
            result.imported += 1
    return result


def get(r, observer_id: str) -> dict | None:
    """Return an observer's stored fields (number still sealed), or None."""
    data = r.hgetall(store.observer_key(observer_id))
    return data or None


def get_many(r, observer_ids: list[str]) -> list[dict | None]:
    """Return several observers in one round trip, in the order asked."""
    pipe = r.pipeline(transaction=False)
    for observer_id in observer_ids:
        pipe.hgetall(store.observer_key(observer_id))
    return [data or None for data in pipe.execute()]


def number_of(settings, observer: dict) -> str | None:
    """Unseal an observer's number for sending; None if it was sealed under another secret."""
    return privacy.unseal(settings.secret, observer.get("phone", ""))


def language_of(observer: dict) -> str:
    """The language to text an observer in: the first one they listed."""
    return (observer.get("languages") or "en").split(",")[0]


def languages_of(observer: dict) -> list[str]:
    return (observer.get("languages") or "en").split(",")


def remove(r, observer_id: str) -> None:
    """Take an observer off the roster entirely."""
    pipe = r.pipeline(transaction=True)
    pipe.delete(store.observer_key(observer_id), store.observer_open_key(observer_id))
    pipe.zrem(store.observers_geo_key(), observer_id)
    pipe.srem(store.observers_all_key(), observer_id)
    pipe.zrem(store.observers_radius_key(), observer_id)
    pipe.execute()


def mark_unreachable(r, observer_id: str, reason: str, now: float) -> None:
    """Record that texts to an observer cannot be delivered, so dispatch skips them."""
    r.hset(store.observer_key(observer_id), mapping={"unreachable": reason, "updated_at": f"{now:.3f}"})


# ---- duty --------------------------------------------------------------------
def shifts_of(observer: dict) -> list[Shift]:
    try:
        return parse_shifts(observer.get("shifts") or "")
    except ValueError:  # stored rows were validated; a hand-edited hash just has no shifts
        return []


def _in_shift(shifts: list[Shift], local: datetime) -> bool:
    minute = local.hour * 60 + local.minute
    today, yesterday = local.weekday(), (local.weekday() - 1) % 7
    for s in shifts:
        if s.day == today and s.start_min <= minute < s.end_min:
            return True
        if s.day == yesterday and s.end_min > 24 * 60 and minute < s.end_min - 24 * 60:
            return True
    return False


def next_shift_change(observer: dict, now: float) -> float | None:
    """Return when the observer's shift schedule next flips on/off duty (epoch s), or None."""
    shifts = shifts_of(observer)
    if not shifts:
        return None
    tz = _timezone(observer.get("timezone") or DEFAULT_TIMEZONE)
    local = datetime.fromtimestamp(now, tz)
    state = _in_shift(shifts, local)
    step = timedelta(minutes=1)
    probe = local.replace(second=0, microsecond=0) + step
    for _ in range(8 * 24 * 60):  # a week of minutes: bounded, cheap, and honest about DST
        if _in_shift(shifts, probe) != state:
            return probe.timestamp()
        probe += step
    return None


def is_on_duty(observer: dict, now: float) -> bool:
    """Tell whether an observer should be asked now: override, else shifts, else the on_call flag."""
    if observer.get("unreachable"):
        return False
    override = observer.get("override", "")
    until = float(observer.get("override_until") or 0)
    if override in ("on", "off") and (until == 0 or now < until):
        return override == "on"
    shifts = shifts_of(observer)
    if shifts:
        tz = _timezone(observer.get("timezone") or DEFAULT_TIMEZONE)
        return _in_shift(shifts, datetime.fromtimestamp(now, tz))
    return observer.get("on_call") == "1"


def set_duty(r, observer_id: str, on: bool, now: float) -> float | None:
    """Override an observer's duty by their own text until their next shift change; return that time."""
    observer = get(r, observer_id) or {}
    until = next_shift_change(observer, now)
    r.hset(
        store.observer_key(observer_id),
        mapping={"override": "on" if on else "off", "override_until": f"{until or 0:.0f}", "updated_at": f"{now:.3f}"},
    )
    return until


def set_shifts(r, observer_id: str, shifts_text: str, timezone: str, now: float) -> None:
    """Replace an observer's weekly shifts (validated) and clear a stale override."""
    parse_shifts(shifts_text)
    _timezone(timezone)
    r.hset(
        store.observer_key(observer_id),
        mapping={"shifts": shifts_text, "timezone": timezone, "updated_at": f"{now:.3f}"},
    )


def import_shifts_yaml(r, settings, path, now: float) -> ImportResult:
    """Apply a shifts YAML file (`timezone:` and `shifts: {phone: [spec, ...]}`) to the roster."""
    import yaml

    result = ImportResult()
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    try:
        doc = yaml.compose(source, Loader=yaml.SafeLoader)  # nodes carry line numbers for errors
        data = yaml.safe_load(source) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        result.errors.append(((mark.line + 1) if mark else 1, "not valid YAML"))
        return result
    lines = {}
    if doc is not None and hasattr(doc, "value"):
        for key_node, value_node in doc.value:
            if key_node.value == "shifts" and hasattr(value_node, "value"):
                lines = {str(k.value): k.start_mark.line + 1 for k, _ in value_node.value}
    if not isinstance(data, dict) or not isinstance(data.get("shifts"), dict):
        result.errors.append((1, "expected a mapping with `shifts:` (phone: list of shifts)"))
        return result
    default_tz = str(data.get("timezone") or DEFAULT_TIMEZONE)
    for phone, spec in data["shifts"].items():
        line = lines.get(str(phone), 1)
        try:
            e164 = parse_phone(str(phone), settings.default_region)
            observer_id = observer_id_for(settings, e164)
            if not r.exists(store.observer_key(observer_id)):
                raise ValueError(f"{phone} is not on the roster")
            if isinstance(spec, dict):
                tz, items = str(spec.get("timezone") or default_tz), spec.get("shifts") or []
            else:
                tz, items = default_tz, spec
            text = "; ".join(items) if isinstance(items, list) else str(items)
            set_shifts(r, observer_id, text, tz, now)
        except ValueError as exc:  # one bad entry must not stop the others
            result.errors.append((line, str(exc)))
            continue
        result.imported += 1
    return result


SEARCH_BATCH = 32
"""Observer hashes read per round trip while looking for candidates, nearest first."""


def candidates_near(
    r,
    lat: float,
    lon: float,
    now: float,
    exclude: set[str] | frozenset = frozenset(),
    limit: int | None = None,
    tie_km: float = 0.0,
) -> list[tuple[str, float, dict]]:
    """Return on-duty observers whose radius covers a point, nearest first, as (id, km, fields).

    With `limit`, stop reading once `limit` are found and the next one is more
    than `tie_km` further than the last found (so a near-tie can still be
    re-ranked by the caller); a big roster costs a few batches, not a full read.
    """
    top = r.zrange(store.observers_radius_key(), -1, -1, withscores=True)
    if not top:
        return []
    hits = r.geosearch(
        store.observers_geo_key(),
        longitude=lon,
        latitude=lat,
        radius=float(top[0][1]),
        unit="km",
        sort="ASC",
        withdist=True,
    )
    hits = [(oid, float(km)) for oid, km in hits if oid not in exclude]
    found: list[tuple[str, float, dict]] = []
    for start in range(0, len(hits), SEARCH_BATCH):
        batch = hits[start : start + SEARCH_BATCH]
        for (oid, km), obs in zip(batch, get_many(r, [oid for oid, _ in batch])):
            if obs and km <= float(obs.get("radius_km") or 0) and is_on_duty(obs, now):
                found.append((oid, km, obs))
        following = hits[start + SEARCH_BATCH][1] if start + SEARCH_BATCH < len(hits) else None
        if limit and len(found) >= limit and (following is None or following > found[limit - 1][1] + tie_km):
            break
    return found


def on_duty_count(r, now: float) -> int:
    """Count observers on duty right now (for health)."""
    ids = list(r.smembers(store.observers_all_key()))
    return sum(1 for obs in get_many(r, ids) if obs and is_on_duty(obs, now))


# ---- join codes ----------------------------------------------------------------
def issue_join_code(r, defaults: dict, now: float, ttl_s: int = JOIN_CODE_TTL_S) -> str:
    """Create a join code a volunteer texts (`JOIN CODE`) to enroll with these roster defaults."""
    code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    r.set(store.join_code_key(code), json.dumps({**defaults, "issued_at": now}), ex=ttl_s)
    return code


def enroll(r, settings, code: str, e164: str, now: float) -> str | None:
    """Enroll a number with a join code's defaults; return the observer id, or None for a bad code."""
    raw = r.get(store.join_code_key(code.strip().upper()))
    if not raw:
        return None
    defaults = json.loads(raw)
    row = {
        "name": defaults.get("name") or "volunteer",
        "phone": e164,
        "languages": defaults.get("languages", "en"),
        "location": defaults.get("location", ""),
        "radius_km": str(defaults.get("radius_km", "10")),
        "on_call": defaults.get("on_call", "no"),
        "skills": defaults.get("skills", ""),
        "shifts": defaults.get("shifts", ""),
        "timezone": defaults.get("timezone", ""),
    }
    existing = get(r, observer_id_for(settings, e164))
    if existing and existing.get("name"):
        row["name"] = existing["name"]
    fields = parse_row(row, settings)
    return upsert(r, settings, fields, now)
