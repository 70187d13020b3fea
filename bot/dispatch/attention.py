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
in the same Lua step that claims the observer's slot (`take`), so two workers
filling two incidents at once cannot both take an observer's last slot.
Reading the budget of a batch of candidates (`Budget`, the pre-filter) is one
pipelined round trip.
"""

from __future__ import annotations

from .. import lua, store

HOUR_S = 3600


def take(
    r, settings, observer_id: str, incident_id: str, code: str, state: str, now: float, open_ttl_s: int, bound: bool
) -> bool:
    """Claim the observer's slot in this incident's dispatch (as `state`) and count the text, atomically
    within their budget (`bot/lua/attention_take.lua`); False when they are at it. `Budget` below only
    pre-filters candidates: with several workers filling incidents at once, this is what holds the line.
    A slot already theirs (a resend) is always granted; `bound=False` (a coordinator's dispatch by hand)
    is counted but never refused."""
    return bool(
        lua.run(
            r,
            "attention_take",
            [
                store.incident_dispatch_key(incident_id),
                store.observer_open_key(observer_id),
                store.observer_asked_key(observer_id),
            ],
            observer_id=observer_id,
            code=code,
            incident_id=incident_id,
            now=repr(float(now)),
            open_ttl_s=open_ttl_s,
            hour_s=HOUR_S,
            max_open=settings.observer_max_open if bound else 0,
            max_hour=settings.observer_max_hour,
            texted=state,
        )
    )


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
