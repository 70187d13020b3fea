"""Coordinators' changes to the roster: duty ON/OFF for someone, clearing an unreachable mark, removing a volunteer.

One home for the console's roster page and `hotline observers remove`; each
change is audited with who made it. Removing a volunteer erases their sealed
number with the rest of their record (re-importing a CSV without someone does
not remove them: a CSV is an upsert, so a partial sheet never drops people).
"""

from __future__ import annotations

from .. import audit, observers, store
from .lifecycle import BadAction

ACTIONS = ("on", "off", "clear_unreachable", "remove")
"""What the roster page can do to one observer (the `admin` role only)."""


def apply(rt, observer_id: str, action: str, by: str, now: float) -> dict:
    """Run one roster action on an observer; return what changed."""
    r = rt.r
    observer = observers.get(r, observer_id)
    if observer is None:
        raise BadAction("no such observer", code="no_such_observer")
    name = observer.get("name", "?")
    result: dict = {"name": name}
    if action in ("on", "off"):
        until = observers.set_duty(r, observer_id, action == "on", now)
        result["until"] = until
    elif action == "clear_unreachable":
        # The mark dispatch sets after a permanent send failure (observers.mark_unreachable); a coordinator
        # who fixed the number or checked with the person clears it without a re-import.
        r.hdel(store.observer_key(observer_id), "unreachable")
    elif action == "remove":
        observers.remove(r, observer_id)
    else:
        raise BadAction(
            f"unknown roster action {action!r}; one of {', '.join(ACTIONS)}", code="unknown_action", actions=ACTIONS
        )
    audit.record(r, f"observer_{action}", by, now, observer=name)
    return result
