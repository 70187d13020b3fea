"""Dispatch lanes: which RQ queue an incident's dispatch jobs go on, so a flood never queues in front of a real report.

A worker serves its queues in strict order (worker.py: `dispatch`, then
`default`, then `dispatch_later`), each first in, first out. A flood of a
thousand numbers across the city opens a thousand incidents in a minute; on one
queue, a genuine report arriving among them would wait behind every one. So
each incident's dispatch gets a lane when it is planned, kept in its plan, and
every job for it afterwards (its wave timers, the watchdog's and a pause's
re-drives, refills) goes on that lane: a flood queued behind cannot come back in
front two minutes later, when its waves time out.

- FIRST (`dispatch`): a contact's first new incident in the hour, in a place
  that is not crowded; anything a coordinator dispatches or releases by hand.
- LATER (`dispatch_later`): a contact's second and later new incidents within
  the hour (its flood-cap count, `Merge.recent`), and an incident opened where
  `incidents.CROWDED_AT` others opened within `CROWDED_KM` in the last ten
  minutes (`Merge.crowded`): the observers there are already being asked about
  those, most of them at their attention budget (`attention`).

Nothing in LATER is dropped or held: it is dispatched the moment the first lane
is empty, which outside a flood is at once. What it costs a real report (one
in a crowded neighbourhood waits behind quieter places' first dispatches while
a flood lasts) is in docs/abuse.md.
"""

from __future__ import annotations

from .. import store

FIRST = "dispatch"
LATER = "dispatch_later"

FIELD = "lane"
"""The plan field (`store.incident_plan_key`) that keeps an incident's lane."""

WHY_FIELD = "lane_why"
"""The plan field next to FIELD that keeps why a dispatch went LATER: WHY values, comma-separated ("" for FIRST)."""

CROWDED, REPEAT = "crowded", "repeat"
"""Why a dispatch went LATER: its place was crowded (`Merge.crowded`), or it is its contact's later new
incident within the hour (`Merge.recent`). The console says so while the dispatch waits (`bot.dispatch.board`)."""


def for_merge(merge) -> str:
    """The lane of the dispatch a merge asks for (`bot.incidents.Merge`)."""
    if merge.is_new and (merge.recent > 0 or merge.crowded):
        return LATER
    return FIRST


def why_for(merge) -> str:
    """Why `for_merge` chose LATER for this merge, as stored in WHY_FIELD ("" when it chose FIRST)."""
    if for_merge(merge) != LATER:
        return ""
    return ",".join(why for why, applies in ((CROWDED, merge.crowded), (REPEAT, merge.recent > 0)) if applies)


def why_of(plan: dict) -> list[str]:
    """The WHY values kept in an incident's plan (empty for FIRST, or for a LATER plan from before WHY_FIELD)."""
    return [why for why in (plan.get(WHY_FIELD) or "").split(",") if why in (CROWDED, REPEAT)]


def of(plan: dict) -> str:
    """The lane kept in an incident's plan (FIRST for a plan from before lanes)."""
    return LATER if plan.get(FIELD) == LATER else FIRST


def of_many(r, incident_ids: list[str]) -> list[str]:
    """The lanes of several incidents, in one round trip."""
    pipe = r.pipeline(transaction=False)
    for incident_id in incident_ids:
        pipe.hget(store.incident_plan_key(incident_id), FIELD)
    return [LATER if lane == LATER else FIRST for lane in pipe.execute()]
