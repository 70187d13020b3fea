"""Twilio status callbacks for dispatch texts: delivered, or a slot to hand to someone else.

Callbacks arrive unordered and sometimes twice; a later `sent` must never
overwrite `delivered`, so each update is applied by rank in one Lua call. An
undelivered dispatch text frees its slot for the next observer; a permanent
error code marks the observer unreachable and tells coordinators.
"""

from __future__ import annotations

import logging

from .. import incidents, lua, observers, runtime, store
from ..channels.twilio import STATUS_ORDER
from . import coordinators, drive, plan, texts

log = logging.getLogger(__name__)


def record_status(rt, update, now: float) -> str:
    """Apply one status callback; for a failed dispatch text, free the slot or mark the observer unreachable."""
    r = rt.r
    key = store.outbound_key(update.message_sid)
    # By rank in one Lua call (`bot/lua/status_rank.lua`): a later `sent` never overwrites `delivered`.
    changed = lua.run(
        r,
        "status_rank",
        [key],
        status=update.status,
        rank=str(STATUS_ORDER.get(update.status, 0)),
        error_code=str(update.error_code or ""),
    )
    if not changed:
        return "unchanged"
    ref = r.hgetall(key)
    if ref.get("purpose") != "dispatch" or update.status not in ("undelivered", "failed"):
        return update.status
    incident_id, observer_id = ref.get("incident_id", ""), ref.get("observer_id", "")
    if not incident_id or not observer_id:
        return update.status
    permanent = update.permanent_failure
    new_state = plan.UNREACHABLE if permanent else plan.UNDELIVERED
    moved = lua.run(
        r,
        "dispatch_move",
        [store.incident_dispatch_key(incident_id)],
        observer=observer_id,
        was=plan.TEXTED,
        to=new_state,
    )
    if not moved:
        return update.status  # they already answered, or the slot moved on
    observer = observers.get(r, observer_id) or {}
    incidents.add_event(
        r,
        incident_id,
        f"dispatch_{new_state}",
        now,
        observer=observer_id,
        name=observer.get("name", ""),
        code=update.error_code or "",
    )
    if permanent:
        observers.mark_unreachable(r, observer_id, permanent, now)
        coordinators.enqueue(
            rt, tell_coordinators_unreachable, observer.get("name", "?"), permanent, description="tell unreachable"
        )
    drive.enqueue_refill(rt, incident_id)
    return new_state


def tell_coordinators_unreachable(name: str, reason: str) -> int:
    """RQ job. Tell coordinators an observer's number cannot be texted."""
    rt = runtime.get()
    return coordinators.text_coordinators_once(
        rt, texts.say(rt.settings, "en", texts.UNREACHABLE, name=name, reason=reason)
    )
