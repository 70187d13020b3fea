"""The retention policy: what is forgotten about a closed incident, and when.

docs/privacy.md: "Data that doesn't exist cannot be breached, subpoenaed, or misused",
with separate retention for reporter identifiers, locations and report content.
Live data needs no purge (sessions, message claims and sealed reply-to numbers
carry TTLs); closed incidents are thinned in two steps by `purge`, which
`hotline purge` runs and the worker runs hourly (HOTLINE_RETENTION_DETAIL_H,
HOTLINE_RETENTION_DAYS).
"""

from __future__ import annotations

import json
import logging

from . import contacts, incidents, store

log = logging.getLogger(__name__)

COARSE_DECIMALS = 2
"""Coordinates kept after thinning: two decimals is about 1 km, the area an alert would name."""

FREE_TEXT_DETAILS = ("markings", "media", "label")
"""Details that may identify a person or a home; dropped at the first step."""

TIMELINE_KEPT = frozenset(
    "event at status reason kind wave timeout_s accepted needed new_reporter precision_m channel language".split()
)
"""Timeline fields that outlive thinning: what happened and when, never who, where exactly, or their words
(reporter ids, points, details, notes, labels, observer names and distances are dropped)."""


def _closed_before(r, cutoff: float) -> list[str]:
    """Ids of incidents closed (or found unfounded) before cutoff, from incidents' closed index."""
    return r.zrangebyscore(store.incidents_closed_key(), "-inf", cutoff)


def thin_event(fields: dict) -> dict:
    """One timeline entry as thinning leaves it."""
    return {k: v for k, v in fields.items() if k in TIMELINE_KEPT}


def purge(rt, now: float, detail_h: float | None = None, keep_days: float | None = None) -> dict:
    """Close stale incidents, then thin and delete closed ones past their retention; return what was done.

    `detail_h` and `keep_days` default to HOTLINE_RETENTION_DETAIL_H and
    HOTLINE_RETENTION_DAYS. An incident nobody closed is closed by the same
    rule that takes it off the open map (HOTLINE_INCIDENT_TTL_MIN quiet) and is
    then forgotten on the closed schedule.
    """
    r, settings = rt.r, rt.settings
    detail_h = settings.retention_detail_h if detail_h is None else detail_h
    keep_days = settings.retention_days if keep_days is None else keep_days
    closed = len(incidents.expire_stale(r, settings, now))
    thinned = deleted = 0
    for incident_id in _closed_before(r, now - detail_h * 3600):
        key = store.incident_key(incident_id)
        data = r.hgetall(key)
        if data.get("status") not in ("closed", "unfounded") or not data.get("closed_at"):
            continue  # reopened (an unfounded report later verified): not ours to purge
        age_s = now - float(data["closed_at"])
        if age_s >= keep_days * 86400:
            reporters = r.smembers(store.incident_reporters_key(incident_id))  # empty once thinned
            pipe = r.pipeline(transaction=True)
            contacts.unindex(pipe, incident_id, reporters)
            pipe.delete(
                key,
                store.incident_reporters_key(incident_id),
                store.incident_timeline_key(incident_id),
                store.incident_dispatch_key(incident_id),
                store.incident_sends_key(incident_id),
                store.incident_plan_key(incident_id),
                store.incident_newcomers_key(incident_id),
                store.incident_photos_key(incident_id),
                store.incident_photo_order_key(incident_id),
            )
            pipe.zrem(store.incidents_closed_key(), incident_id)
            pipe.execute()
            deleted += 1
        elif data.get("thinned") != "1" and age_s >= detail_h * 3600:
            _thin(r, incident_id, data)
            thinned += 1
    log.info("retention purge: %d stale closed, %d thinned, %d deleted", closed, thinned, deleted)
    return {"closed": closed, "thinned": thinned, "deleted": deleted}


def _thin(r, incident_id: str, data: dict) -> None:
    """Drop who and exactly where from one closed incident: reporter ids, point, free text, photos, timeline details."""
    key = store.incident_key(incident_id)
    details = json.loads(data.get("details") or "{}")
    for name in FREE_TEXT_DETAILS:
        details.pop(name, None)
    reporters = r.smembers(store.incident_reporters_key(incident_id))
    store.rewrite_stream(r, store.incident_timeline_key(incident_id), thin_event)
    pipe = r.pipeline(transaction=True)
    contacts.unindex(pipe, incident_id, reporters)
    pipe.delete(
        store.incident_reporters_key(incident_id),
        store.incident_sends_key(incident_id),
        store.incident_photos_key(incident_id),  # kept photos (HOTLINE_KEEP_PHOTOS) go with the other free text
        store.incident_photo_order_key(incident_id),
    )
    fields = {"details": json.dumps(details), "thinned": "1"}
    if data.get("lat"):
        fields["lat"] = f"{float(data['lat']):.{COARSE_DECIMALS}f}"
        fields["lon"] = f"{float(data['lon']):.{COARSE_DECIMALS}f}"
    pipe.hset(key, mapping=fields)
    pipe.hincrby(key, "reporters_forgotten", len(reporters))  # the ids go, the count stays
    pipe.execute()
