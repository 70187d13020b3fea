"""Later answers of a report that already reached observers: details and a sharper place, atomically.

The flow submits a report as soon as it knows where and what (so observers
are texted within seconds) and keeps asking; each answer after that comes
here. One Lua step merges the new details into the incident, moves it to a
sharper point (cross streets after a ZIP or a city) and appends one timeline
event naming what changed, so two reporters updating one scene never lose
each other's details. The script is `bot/lua/incident_update.lua`.
"""

from __future__ import annotations

import json

import redis

from .. import lua, store
from ..geo import PRECISION_M, precision_class


def update_report(
    r: redis.Redis, incident_id: str, details: dict, place: dict | None, now: float, feed_cap: int
) -> list[str]:
    """Merge a report's later answers into its open incident; return the names that changed (empty: none)."""
    keys = [
        store.incident_key(incident_id),
        store.incidents_geo_key(),
        store.incidents_time_key(),
        store.incident_timeline_key(incident_id),
        *[store.incidents_geo_class_key(name) for name in PRECISION_M],
        store.incident_feed_key(),
    ]
    precision_m = int((place or {}).get("precision_m") or PRECISION_M["city"])
    changed = lua.run(
        r,
        "incident_update",
        keys,
        id=incident_id,
        now=repr(float(now)),
        details=json.dumps(details or {}, sort_keys=True, default=str),
        lat=repr(float(place["lat"])) if place else "",
        lon=repr(float(place["lon"])) if place else "",
        precision_m=precision_m,
        label=(place or {}).get("label", ""),
        precision=(place or {}).get("precision") or precision_class(precision_m),
        class_metres=list(PRECISION_M.values()),
        feed_cap=feed_cap,
    )
    return [str(name) for name in changed or []]
