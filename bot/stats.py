"""De-identified statistics that outlive retention: counts per day, area and kind.

A network documents enforcement so its community, lawyers and city council can
act on it ("1,916 sightings from 1,078 reporters, 667 operations with arrests").
Retention deletes an incident's details on schedule, so the counts are written
at the moment things happen — a report merged, an incident verified or found
unfounded — into one hash per local day, never with an id, a number, a word a
reporter wrote or a point finer than a ZIP area. `hotline stats` reads them back.

Distinct reporters are counted at a person's first report: the contact's own
hash (which already holds their language, keyed by HMAC) remembers that they
reported, for as long as it remembers their language. So `reporters` over a
range is "people who reported for the first time in it"; over a whole campaign
that is exactly the distinct count, and no list of reporters is ever kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from . import store
from .contacts import PREFS_TTL_S
from .geo import areas
from .i18n import N_

REPORT_METRICS = ("reports", "reporters", "incidents", "unplaced")
"""Counted when a report arrives (in the day it arrived)."""

OUTCOME_METRICS = (
    "verified",
    "unfounded",
    "arrest_operations",
    "detained",
    "masked",
    "unidentified",
    "unmarked",
    "no_plates",
)
"""Counted when an observer or coordinator settles an incident (in the day the incident began)."""

DISPATCH_METRICS = ("escalations", "two_observers")
"""Counted as dispatch goes (in the day the incident began): nobody (enough) accepted; the pair was complete."""

DEBRIEF_CODES: dict[str, tuple[str, ...]] = {
    "agency": ("ice", "cbp", "hsi", "fbi", "police", "unknown"),
    "identified": ("yes", "no", "unknown"),
    "badge": ("yes", "no", "unknown"),
    "warrant": ("judicial", "administrative", "none", "unknown"),
    "masks": ("yes", "no", "unknown"),
    "vehicles": ("marked", "unmarked", "both", "none", "unknown"),
    "plates": ("visible", "none", "unknown"),
    "force": ("yes", "no", "unknown"),
    "legal_help": ("yes", "no", "unknown"),
}
"""An observer's debrief as stored in `details.debrief` (flows/debrief.yaml; `agency` is a list of codes).

`_outcomes` counts `identified`, `masks`, `vehicles`, `plates`; the export carries all of them."""

DEBRIEF_COUNTS = ("detained_count",)
"""The debrief's numbers (`detained` counts the larger of a scene's observers' figures)."""

DURATION_EDGES_MIN = (2, 5, 10, 20, 40, 60)
"""Upper edges of the minutes buckets for time to first accept and to first arrival; the last bucket is open."""


def _buckets(what: str) -> tuple[str, ...]:
    return tuple(f"{what}_le_{m}m" for m in DURATION_EDGES_MIN) + (f"{what}_over_{DURATION_EDGES_MIN[-1]}m",)


DURATIONS = {"first_accept": _buckets("first_accept"), "first_arrival": _buckets("first_arrival")}
"""Distributions kept as bucket counts (never a list of times), named by what they measure."""

METRICS = REPORT_METRICS + OUTCOME_METRICS + DISPATCH_METRICS + DURATIONS["first_accept"] + DURATIONS["first_arrival"]
"""Every count `hotline stats` knows, in the order it prints them."""

HEADLINE = ("reports", "reporters", "incidents", "verified", "arrest_operations", "detained")
"""The table a network reports to its community and council."""

HEADLINE_LABELS = {
    "reports": N_("Sightings reported"),
    "reporters": N_("Distinct reporters"),
    "incidents": N_("Incidents (reports of one scene merged)"),
    "verified": N_("Verified by an observer"),
    "unfounded": N_("Found unfounded"),
    "arrest_operations": N_("Verified operations with arrests"),
    "detained": N_("People detained (observers' count)"),
    "unidentified_share": N_("Share where agents did not identify themselves"),
}
"""The headline table's rows, in the words a network's report uses (CLI and console)."""

UNPLACED = "-"
"""The area of a report nothing could place on the map."""

DEFAULT_MIN_CELL = 5
"""Counts below this (but above 0) are suppressed in breakdowns, so a cell cannot single out a person."""

SEP = "\t"
"""Separates area, kind and metric in a day hash's field names (none of them holds a tab)."""


def _tz(settings) -> ZoneInfo:
    return ZoneInfo(getattr(settings, "timezone", "") or "America/Los_Angeles")


def day_of(settings, epoch: float) -> str:
    """The network's local calendar day of a moment, as YYYY-MM-DD."""
    return datetime.fromtimestamp(epoch, _tz(settings)).date().isoformat()


def area_code(settings, lat: float | None, lon: float | None) -> str:
    """The ZIP area a point lies in (the nearest ZIP centroid), or UNPLACED."""
    if lat is None or lon is None:
        return UNPLACED
    return areas.nearest_zip(settings.bounds, float(lat), float(lon)) or UNPLACED


def _field(area: str, kind: str, metric: str) -> str:
    return SEP.join((area, kind, metric))


REPORTED_TTL_S = PREFS_TTL_S
"""How long a contact's "has reported" mark lives when nothing else keeps their hash: as a language preference."""


@dataclass(frozen=True)
class Slot:
    """Where one report is counted: the day's hash and the field prefix (area, kind)."""

    day: str
    day_key: str
    ordinal: int
    prefix: str


def slot(settings, kind: str, lat, lon, now: float) -> Slot:
    """The day and area a report made now at (lat, lon) is counted in."""
    day = day_of(settings, now)
    area = area_code(settings, lat, lon)
    return Slot(day, store.stats_day_key(day), date.fromisoformat(day).toordinal(), _field(area, kind, ""))


def record_report(r, settings, *, contact_id: str, kind: str, now: float) -> None:
    """Count one report nothing could place (placed reports are counted by the merge script, in one step)."""
    where = slot(settings, kind, None, None, now)
    contact = store.contact_key(contact_id)
    pipe = r.pipeline(transaction=False)
    pipe.hsetnx(contact, "reported", "1")
    pipe.ttl(contact)
    pipe.hincrby(where.day_key, where.prefix + "reports", 1)
    pipe.hincrby(where.day_key, where.prefix + "unplaced", 1)
    pipe.zadd(store.stats_days_key(), {where.day: where.ordinal})
    first, ttl = pipe.execute()[:2]
    pipe = r.pipeline(transaction=False)
    if first:
        pipe.hincrby(where.day_key, where.prefix + "reporters", 1)
    if ttl == -1:  # the hash was made just now: it lives as long as a language preference
        pipe.expire(contact, REPORTED_TTL_S)
    pipe.execute()


def _outcomes(incident: dict) -> dict[str, int]:
    """The outcome counts one incident contributes once it is verified."""
    details = incident.get("details") or {}
    identifiers = set(details.get("identifiers") or [])
    debrief = details.get("debrief") or {}
    detained_n = int(debrief.get("detained_count") or 0)
    arrests = details.get("detained") == "yes" or detained_n > 0
    return {
        "verified": 1,
        "arrest_operations": int(arrests),
        "detained": detained_n or int(arrests),
        "masked": int("masks" in identifiers or debrief.get("masks") == "yes"),
        "unidentified": int(debrief.get("identified") == "no"),
        "unmarked": int("unmarked" in identifiers or debrief.get("vehicles") in ("unmarked", "both")),
        "no_plates": int(debrief.get("plates") == "none"),
    }


def record_status(r, settings, incident: dict, previous: str, status: str) -> None:
    """Count an incident's move to verified or unfounded (and undo a count an observer corrected)."""
    if status not in ("verified", "unfounded") or previous == status:
        return  # closing keeps what the incident was found to be; only a finding (or its correction) counts
    key, day, ordinal, prefix = _incident_field(settings, incident, "")
    pipe = r.pipeline(transaction=False)
    for sign, state in ((-1, previous), (1, status)):  # undo the finding an observer corrected, if any
        if state == "verified":
            for metric, n in _outcomes(incident).items():
                if n:
                    pipe.hincrby(key, prefix + metric, sign * n)
        elif state == "unfounded":
            pipe.hincrby(key, prefix + "unfounded", sign)
    pipe.zadd(store.stats_days_key(), {day: ordinal})
    pipe.execute()


def queue_outcome_change(pipe, settings, incident: dict, details: dict) -> None:
    """Queue moving a verified incident's outcome counts to what `details` (its new details) say.

    An observer's debrief arrives after the verdict was counted; this counts the
    difference, on the caller's transaction, so the incident's write and its
    counts commit together (`bot.debrief.attach`).
    """
    key, day, ordinal, prefix = _incident_field(settings, incident, "")
    before, after = _outcomes(incident), _outcomes({**incident, "details": details})
    for metric in after:
        if after[metric] != before[metric]:
            pipe.hincrby(key, prefix + metric, after[metric] - before[metric])
    pipe.zadd(store.stats_days_key(), {day: ordinal})


def _incident_field(settings, incident: dict, metric: str) -> tuple[str, str, int, str]:
    """Where an incident's own counts go: the day and area it began in."""
    day = day_of(settings, datetime.fromisoformat(incident["created_at"]).timestamp())
    area = area_code(settings, incident.get("lat"), incident.get("lon"))
    field = _field(area, incident.get("kind", "other"), metric)
    return store.stats_day_key(day), day, date.fromisoformat(day).toordinal(), field


def _bucket(what: str, seconds: float) -> str:
    for edge, name in zip(DURATION_EDGES_MIN, DURATIONS[what]):
        if seconds <= edge * 60:
            return name
    return DURATIONS[what][-1]


def record_dispatch(r, settings, incident: dict, event: str, now: float | None = None) -> None:
    """Count a dispatch milestone: `escalations`, `two_observers`, or `first_accept`/`first_arrival` at now."""
    if event in DURATIONS:
        created = datetime.fromisoformat(incident["created_at"]).timestamp()
        metric = _bucket(event, max(0.0, float(now or created) - created))
    elif event in DISPATCH_METRICS:
        metric = event
    else:
        raise ValueError(f"unknown dispatch milestone {event!r}")
    key, day, ordinal, field = _incident_field(settings, incident, metric)
    pipe = r.pipeline(transaction=False)
    pipe.hincrby(key, field, 1)
    pipe.zadd(store.stats_days_key(), {day: ordinal})
    pipe.execute()


@dataclass(frozen=True)
class Cell:
    """One row of a breakdown: a period or an area, with its counts."""

    label: str
    counts: dict[str, int]


def _days(r, since: date | None, until: date | None) -> list[str]:
    lo = since.toordinal() if since else "-inf"
    hi = until.toordinal() if until else "+inf"
    return list(r.zrangebyscore(store.stats_days_key(), lo, hi))


def _rows(r, days: list[str]):
    """Yield (day, area, kind, metric, n) for every stored count of the given days."""
    pipe = r.pipeline(transaction=False)
    for day in days:
        pipe.hgetall(store.stats_day_key(day))
    for day, fields in zip(days, pipe.execute()):
        for name, value in fields.items():
            area, kind, metric = name.split(SEP)
            yield day, area, kind, metric, int(value)


def _empty() -> dict[str, int]:
    return dict.fromkeys(METRICS, 0)


def _group_label(by: str, settings, day: str, area: str) -> str:
    if by == "day":
        return day
    if by == "week":
        d = date.fromisoformat(day)
        return (d - timedelta(days=d.weekday())).isoformat()  # the Monday that starts it
    if by == "city":
        return _city(settings, area)
    if by == "zip":
        return area
    raise ValueError(f"unknown breakdown {by!r}")


def _city(settings, area: str) -> str:
    if area == UNPLACED:
        return "unplaced"
    for zip_code, city, _, _ in areas.zip_table(tuple(settings.bounds) if settings.bounds else None):
        if zip_code == area:
            return city.title()
    return area


def totals(r, settings, since: date | None = None, until: date | None = None, by: str | None = None) -> dict:
    """Sum the stored counts over [since, until]; with `by`, also per day, week, city or zip."""
    total = _empty()
    groups: dict[str, dict[str, int]] = {}
    for day, area, _kind, metric, n in _rows(r, _days(r, since, until)):
        if metric not in total:
            continue  # a metric a newer version wrote: ignored, never an error
        total[metric] += n
        if by:
            groups.setdefault(_group_label(by, settings, day, area), _empty())[metric] += n
    # of the verified operations, the share where agents did not identify themselves (observers' debriefs)
    share = round(total["unidentified"] / total["verified"], 3) if total["verified"] else None
    result: dict = {**total, "unidentified_share": share}
    for what, names in DURATIONS.items():  # "time to first accept: 12 within 2 min, 30 within 5 min, ..."
        result[what] = {name.removeprefix(what + "_"): total[name] for name in names}
    if by:
        result["by"] = by
        result["rows"] = [Cell(label, counts) for label, counts in sorted(groups.items())]
    return result


def suppress(counts: dict[str, int], min_cell: int) -> dict[str, int | None]:
    """Hide counts small enough to single someone out (0 < n < min_cell becomes None)."""
    return {k: (None if 0 < v < min_cell else v) for k, v in counts.items()}


def as_json(result: dict, min_cell: int = DEFAULT_MIN_CELL) -> str:
    """The totals (exact) and any breakdown (small cells suppressed) as JSON."""
    out = {k: v for k, v in result.items() if k != "rows"}
    if "rows" in result:
        out["rows"] = [{"label": c.label, **suppress(c.counts, min_cell)} for c in result["rows"]]
        out["suppressed_below"] = min_cell
    return json.dumps(out, indent=2, sort_keys=True)


def as_csv(result: dict, min_cell: int = DEFAULT_MIN_CELL) -> str:
    """One line per breakdown row (small cells shown as `<N`), then the exact total."""
    lines = [",".join(("period_or_area", *METRICS))]
    for cell in result.get("rows", []):
        shown = suppress(cell.counts, min_cell)
        lines.append(",".join((cell.label, *(f"<{min_cell}" if shown[m] is None else str(shown[m]) for m in METRICS))))
    lines.append(",".join(("total", *(str(result[m]) for m in METRICS))))
    return "\n".join(lines) + "\n"
