"""Finding observers for a scene: on duty, within their own radius, nearest first, in batches."""

from __future__ import annotations

from collections.abc import Callable

from .. import store
from .duty import is_on_duty
from .roster import get_many

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
    admit: Callable[[list[str]], set[str]] | None = None,
) -> list[tuple[str, float, dict]]:
    """Return on-duty observers whose radius covers a point, nearest first, as (id, km, fields).

    With `limit`, stop reading once `limit` are found and the next one is more
    than `tie_km` further than the last found (so a near-tie can still be
    re-ranked by the caller); a big roster costs a few batches, not a full read.
    With `admit` (the dispatch's attention budget), each batch's eligible observers
    are passed to it and only those it returns are found.
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
        eligible = [
            (oid, km, obs)
            for (oid, km), obs in zip(batch, get_many(r, [oid for oid, _ in batch]))
            if obs and km <= float(obs.get("radius_km") or 0) and is_on_duty(obs, now)
        ]
        if admit is not None and eligible:
            admitted = admit([oid for oid, _km, _obs in eligible])
            eligible = [item for item in eligible if item[0] in admitted]
        found.extend(eligible)
        following = hits[start + SEARCH_BATCH][1] if start + SEARCH_BATCH < len(hits) else None
        if limit and len(found) >= limit and (following is None or following > found[limit - 1][1] + tie_km):
            break
    return found


def on_duty_count(r, now: float) -> int:
    """Count observers on duty right now (for health)."""
    ids = list(r.smembers(store.observers_all_key()))
    return sum(1 for obs in get_many(r, ids) if obs and is_on_duty(obs, now))
