"""The retention policy: what is forgotten about a closed incident, and when.

docs/privacy.md: "Data that doesn't exist cannot be breached, subpoenaed, or misused",
with separate retention for reporter identifiers, locations and report content.
Live data needs no purge (sessions, message claims and sealed reply-to numbers
carry TTLs); closed incidents are thinned in two steps by `purge`, which
`hotline purge` runs and the worker's scheduler can run hourly.
"""

from __future__ import annotations

import json
import logging

from . import store

log = logging.getLogger(__name__)

REPORTERS_AND_PLACE_H = 24
"""Hours after closing that reporter ids, the exact point and free-text details are kept (follow-up questions)."""

CONTENT_DAYS = 30
"""Days after closing that the coarse incident record (area, kind, counts, timeline) is kept."""

COARSE_DECIMALS = 2
"""Coordinates kept after thinning: two decimals is about 1 km, the area an alert would name."""

FREE_TEXT_DETAILS = ("markings", "media", "label")
"""Details that may identify a person or a home; dropped at the first step."""


def _closed_before(r, cutoff: float) -> list[str]:
    """Ids of incidents closed (or found unfounded) before cutoff, from incidents' closed index."""
    return r.zrangebyscore(store.incidents_closed_key(), "-inf", cutoff)


def purge(rt, now: float, reporters_h: float = REPORTERS_AND_PLACE_H, content_days: float = CONTENT_DAYS) -> dict:
    """Thin and delete closed incidents past their retention; return what was done."""
    r = rt.r
    thinned = deleted = 0
    for incident_id in _closed_before(r, now - reporters_h * 3600):
        key = store.incident_key(incident_id)
        data = r.hgetall(key)
        if data.get("status") not in ("closed", "unfounded") or not data.get("closed_at"):
            continue  # reopened (an unfounded report later verified): not ours to purge
        age_s = now - float(data["closed_at"])
        if age_s >= content_days * 86400:
            pipe = r.pipeline(transaction=True)
            pipe.delete(
                key,
                store.incident_reporters_key(incident_id),
                store.incident_timeline_key(incident_id),
                store.incident_dispatch_key(incident_id),
                store.incident_sends_key(incident_id),
            )
            pipe.zrem(store.incidents_closed_key(), incident_id)
            pipe.execute()
            deleted += 1
        elif data.get("thinned") != "1":
            details = json.loads(data.get("details") or "{}")
            for name in FREE_TEXT_DETAILS:
                details.pop(name, None)
            pipe = r.pipeline(transaction=True)
            pipe.delete(store.incident_reporters_key(incident_id), store.incident_sends_key(incident_id))
            fields = {"details": json.dumps(details), "thinned": "1"}
            if data.get("lat"):
                fields["lat"] = f"{float(data['lat']):.{COARSE_DECIMALS}f}"
                fields["lon"] = f"{float(data['lon']):.{COARSE_DECIMALS}f}"
            pipe.hset(key, mapping=fields)
            pipe.execute()
            thinned += 1
    log.info("retention purge: %d thinned, %d deleted", thinned, deleted)
    return {"thinned": thinned, "deleted": deleted}
