"""The console's HTML pages: open incidents and one incident's timeline.

A coordinator can watch the network from a phone without the command line.
The pages show places and counts, never a phone number (incidents hold none).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

from babel.dates import format_timedelta
from flask import Response, abort, render_template
from flask_login import current_user

from .. import i18n, incidents, photos
from ..errors import NoSuchIncident
from ..privacy import redact
from . import bp, runtime

REFRESH_S = 15
"""Auto-refresh period: fresh enough to follow a dispatch wave (120 s), light on a phone."""

_INCIDENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_PERSON_KEYS = ("reporter", "contact_id", "observer", "observer_id")
"""Timeline fields holding a person's keyed hash: shown as a short tag, enough to tell two apart."""
_TIME_KEYS = ("at", "ts", "time", "created_at")


def _runtime():
    return runtime()


def _epoch(value) -> float | None:
    """Read a stored time (epoch seconds or ISO 8601) as epoch seconds."""
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):  # not a number: try ISO 8601 next
        pass
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:  # an unreadable time is shown as unknown, not a crash
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _age(value, now: float) -> str:
    at = _epoch(value)
    if at is None:
        return "?"
    return format_timedelta(max(0.0, now - at), threshold=1.1, locale="en")


def _clock(value) -> str:
    at = _epoch(value)
    if at is None:
        return ""
    return i18n.local_time(runtime().settings, at, "en", seconds=True)


def _place(incident: dict) -> str:
    label = incident.get("label") or (incident.get("details") or {}).get("label") or ""
    if label:
        return redact(str(label))
    try:
        return f"{float(incident['lat']):.5f}, {float(incident['lon']):.5f}"
    except (KeyError, TypeError, ValueError):  # an unplaced incident has no coordinates
        return "unplaced"


def _details(details: dict) -> dict[str, str]:
    """Render a report's answers for coordinators: codes and counts, free text redacted."""
    shown = {}
    for name, value in details.items():
        if name in ("label", "precision"):
            continue  # already shown as the place
        if name == "media":
            shown[name] = f"{len(value)} attached" if isinstance(value, list) else "attached"
        elif isinstance(value, dict):  # the observers' debrief: coded answers
            shown[name] = " · ".join(f"{k.replace('_', ' ')}: {_listed(v)}" for k, v in value.items())
        else:
            shown[name] = _listed(value)
    return shown


def _listed(value) -> str:
    """One answer as shown: a list joined with commas, anything else through `_shown`."""
    return ", ".join(_shown(v) for v in value) if isinstance(value, list) else _shown(value)


def incident_row(incident: dict, now: float) -> dict:
    """Turn one incident dict into what a dashboard row shows."""
    return {
        "id": str(incident.get("id", "")),
        "ref": incident.get("ref") or incident.get("id", ""),
        "status": incident.get("status", ""),
        "kind": incident.get("kind", ""),
        "place": _place(incident),
        "lat": incident.get("lat"),
        "lon": incident.get("lon"),
        "precision": incident.get("precision", ""),
        "reporters": int(incident.get("reporters") or 0),
        "texted": int(incident.get("texted") or 0),
        "accepted": int(incident.get("accepted") or 0),
        "age": _age(incident.get("created_at"), now),
        "details": _details(incident.get("details") or {}),
    }


def _shown(value) -> str:
    """Render a timeline value, blanking anything phone-like in free text."""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    try:
        float(text)
        return text  # a number (coordinate, count, epoch) is never a phone number here
    except ValueError:
        return redact(text)


def _event_field(name: str, value) -> str:
    if name in _PERSON_KEYS and value:
        return "#" + str(value)[:6]
    if name == "details":
        try:
            details = json.loads(value)
        except (TypeError, ValueError):  # not the JSON incidents writes: show it as text
            return _shown(value)
        if isinstance(details, dict):
            return "; ".join(f"{k}: {v}" for k, v in _details(details).items())
    return _shown(value)


def timeline_row(event: dict) -> dict:
    """Turn one timeline event into time, kind and the rest of its fields."""
    when = next((event[k] for k in _TIME_KEYS if k in event), None)
    kind = event.get("kind") or event.get("event") or ""
    rest = {k: _event_field(k, v) for k, v in event.items() if k not in _TIME_KEYS and k not in ("kind", "event", "id")}
    return {"time": _clock(when), "kind": kind, "fields": rest}


@bp.get("/dashboard/incidents/<incident_id>")
def incident(incident_id: str):
    rt = _runtime()
    if not _INCIDENT_ID_RE.match(incident_id):
        abort(404)
    now = time.time()
    try:
        found = incidents.get(rt.r, incident_id)
    except NoSuchIncident:
        found = None
    if not found:
        abort(404)
    found = {"id": incident_id, **found}
    events = [timeline_row(e) for e in incidents.timeline(rt.r, incident_id)]
    return render_template(
        "dashboard_incident.html",
        incident=incident_row(found, now),
        photos=photos.listed(rt.r, incident_id) if current_user.may("incidents") else [],
        events=events,
        refresh_s=REFRESH_S,
        updated=_clock(now),
    )


_PHOTO_ID_RE = re.compile(r"^[0-9a-f]{16}$")


@bp.get("/dashboard/incidents/<incident_id>/photos/<photo_id>")
def photo(incident_id: str, photo_id: str):
    """One kept photo (HOTLINE_KEEP_PHOTOS), unsealed for a coordinator whose role acts on incidents; audited."""
    rt = _runtime()
    if not current_user.may("incidents"):
        abort(403)
    if not _INCIDENT_ID_RE.match(incident_id) or not _PHOTO_ID_RE.match(photo_id):
        abort(404)
    found = photos.view(rt.r, rt.settings, incident_id, photo_id, current_user.name, time.time())
    if found is None:
        abort(404)
    data, content_type = found
    return Response(
        data,
        mimetype=content_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{photo_id}"'},
    )
