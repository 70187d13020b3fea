"""Observers' attention budget: at most so many open dispatches at once and so many texts an hour.

Issue 12's city-wide drill sent one observer 73 dispatch texts: whether the
reports were false or real, a volunteer texted that often stops reading the
hotline. An observer can be at one scene at a time; a second open ask lets
them choose; a fifth text in an hour is noise. So the wave planner asks
`Budget` before texting anyone: an observer with `HOTLINE_OBSERVER_MAX_OPEN`
open dispatches (asked and not yet answered, or going) or
`HOTLINE_OBSERVER_MAX_HOUR` dispatch texts in the last hour is skipped, and
the next nearest is asked. When everyone in range is at their budget the
dispatch waits (the wave's timer re-drives it) instead of escalating: the board
shows "waiting: observers near it are at their limit". A coordinator's dispatch
by hand is not bound by the budget (it is still counted).

Open dispatches are the observer's open-codes hash (`store.observer_open_key`,
kept by the replies and the lifecycle); the hour's texts a sorted set written
in the same pipeline as the dispatch state (`queue_record`). Reading the budget
of a batch of candidates is one pipelined round trip.
"""

from __future__ import annotations

from .. import store

HOUR_S = 3600


def queue_record(pipe, observer_id: str, incident_id: str, now: float) -> None:
    """Queue counting one dispatch text to an observer (idempotent per incident: a resend counts once)."""
    key = store.observer_asked_key(observer_id)
    pipe.zadd(key, {incident_id: now}, nx=True)
    pipe.zremrangebyscore(key, "-inf", f"({now - HOUR_S}")
    pipe.expire(key, HOUR_S)


class Budget:
    """Which candidates may be texted now; counts those skipped so the caller can tell "busy" from "nobody"."""

    def __init__(self, r, settings, now: float):
        self.r, self.now = r, now
        self.max_open, self.max_hour = settings.observer_max_open, settings.observer_max_hour
        self.skipped = 0

    def __call__(self, observer_ids: list[str]) -> set[str]:
        if not observer_ids:
            return set()
        pipe = self.r.pipeline(transaction=False)
        for oid in observer_ids:
            pipe.hlen(store.observer_open_key(oid))
            pipe.zcount(store.observer_asked_key(oid), self.now - HOUR_S, "+inf")
        replies = pipe.execute()
        admitted = {
            oid
            for oid, open_now, hour in zip(observer_ids, replies[0::2], replies[1::2])
            if open_now < self.max_open and hour < self.max_hour
        }
        self.skipped += len(observer_ids) - len(admitted)
        return admitted
