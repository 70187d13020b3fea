"""De-identified exports of incidents for a network's lawyers and researchers (CSV, GeoJSON).

What leaves the hotline here is what could be published: the day, the kind, the
status, the counts and the coded answers of each incident, placed at its ZIP
area's centroid — never the exact point, a place name finer than the area, a
reporter id, or a reporter's free text (unless an admin asks for the free text,
and then the file says so). Every export is recorded in the audit log.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

from . import audit as audit_log
from . import incidents, stats, store
from .errors import NoSuchIncident
from .geo import areas

CODED_DETAILS = ("activity", "agents", "vehicles", "identifiers", "detained")
"""Answers exported as they were coded by the flow (numbers and option codes, never words)."""

DEBRIEF_DETAILS = tuple(stats.DEBRIEF_CODES) + stats.DEBRIEF_COUNTS
"""Observers' debrief codes (`details.debrief`), exported as `debrief_<name>` columns."""

FREE_TEXT = ("markings",)
"""Answers in a reporter's own words: exported only on an admin's explicit request."""

COLUMNS = ("ref", "day", "kind", "status", "area", "area_name", "lat", "lon", "reports", "reporters", "accepted")
"""Columns of the CSV before the coded answers."""


def _ids(r) -> list[str]:
    """Every incident still stored: the open ones and the closed ones retention has not deleted."""
    open_ids = r.zrange(store.incidents_time_key(), 0, -1)
    closed_ids = r.zrange(store.incidents_closed_key(), 0, -1)
    return sorted(set(open_ids) | set(closed_ids), key=int)


def incidents_in(r, settings, since: date | None, until: date | None) -> list[dict]:
    """The stored incidents that began within [since, until] (the network's local days)."""
    found = []
    for incident_id in _ids(r):
        try:
            incident = incidents.get(r, incident_id)
        except NoSuchIncident:  # deleted by retention between the two reads
            continue
        day = stats.day_of(settings, datetime.fromisoformat(incident["created_at"]).timestamp())
        if (since and day < since.isoformat()) or (until and day > until.isoformat()):
            continue
        found.append({**incident, "day": day})
    return found


def _row(settings, incident: dict, free_text: bool) -> dict:
    zip_code = stats.area_code(settings, incident["lat"], incident["lon"])
    lat = lon = None
    name = "unplaced"
    for code, city, zlat, zlon in areas.zip_table(tuple(settings.bounds) if settings.bounds else None):
        if code == zip_code:
            lat, lon, name = zlat, zlon, f"{city.title()} {code}"
            break
    details = incident.get("details") or {}
    row = {
        "ref": incident["ref"],
        "day": incident["day"],
        "kind": incident["kind"],
        "status": incident["status"],
        "area": zip_code,
        "area_name": name,
        "lat": lat,
        "lon": lon,
        "reports": incident["reports"],
        "reporters": incident["reporters"],
        "accepted": incident["accepted"],
    }
    for name in CODED_DETAILS + (FREE_TEXT if free_text else ()):
        row[name] = _cell(details.get(name))
    debrief = details.get("debrief") or {}
    for name in DEBRIEF_DETAILS:
        row[f"debrief_{name}"] = _cell(debrief.get(name))
    return row


def _cell(value):
    """A coded answer as one cell: a list of codes joined with `;`."""
    return ";".join(map(str, value)) if isinstance(value, list) else value


def rows(r, settings, since: date | None, until: date | None, *, free_text: bool = False) -> list[dict]:
    """De-identified rows for the stored incidents that began within [since, until]."""
    return [_row(settings, incident, free_text) for incident in incidents_in(r, settings, since, until)]


def as_csv(rows: list[dict], free_text: bool) -> str:
    """Rows as CSV; a first comment line says whether reporters' free text is included."""
    out = io.StringIO()
    out.write("# free text: INCLUDED (reporters' own words)\n" if free_text else "# free text: none\n")
    debriefs = tuple(f"debrief_{name}" for name in DEBRIEF_DETAILS)
    names = list(COLUMNS + CODED_DETAILS + debriefs + (FREE_TEXT if free_text else ()))
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def as_geojson(rows: list[dict], free_text: bool) -> str:
    """Rows as a GeoJSON FeatureCollection of ZIP-area centroids (unplaced incidents have no geometry)."""
    features = []
    for row in rows:
        props = {k: v for k, v in row.items() if k not in ("lat", "lon")}
        geometry = {"type": "Point", "coordinates": [row["lon"], row["lat"]]} if row["lat"] is not None else None
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    collection = {"type": "FeatureCollection", "free_text_included": free_text, "features": features}
    return json.dumps(collection, indent=1) + "\n"


def audit(r, who: str, fmt: str, count: int, free_text: bool, now: float) -> None:
    """Record an export in the audit log: who, when, what format, how many, whether free text left."""
    audit_log.record(r, "export", who, now, format=fmt, count=count, free_text=int(free_text))
