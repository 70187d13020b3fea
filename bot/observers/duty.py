"""Who is on duty now: weekly shifts in the observer's time zone, ON/OFF overrides by text, on_call.

`is_on_duty` is the one answer dispatch asks; `next_shift_change` tells an
observer who texts ON/OFF how long their override lasts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import yaml

from .. import store
from .parse import DEFAULT_TIMEZONE, Shift, _timezone, parse_phone, parse_shifts
from .roster import ImportResult, get, observer_id_for


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
