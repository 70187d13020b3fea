"""Twilio status callbacks for dispatch texts: delivered, or a slot to hand to someone else.

Callbacks arrive unordered and sometimes twice; a later `sent` must never
overwrite `delivered`, so each update is applied by rank in one Lua call. An
undelivered dispatch text frees its slot for the next observer; a permanent
error code marks the observer unreachable and tells coordinators.
"""

from __future__ import annotations

import logging

from .. import incidents, observers, runtime, store
from ..channels.twilio import STATUS_ORDER
from . import coordinators, drive, plan, texts

log = logging.getLogger(__name__)

_RANK_LUA = """
local cur = redis.call('HGET', KEYS[1], 'status')
local rank = tonumber(ARGV[2])
local cur_rank = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if cur == 'delivered' or cur == 'read' then
  if ARGV[1] ~= 'read' then return 0 end
end
if rank < cur_rank then return 0 end
if cur == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2], 'error_code', ARGV[3])
return 1
"""
# Never downgrade: `delivered` stays delivered whatever arrives after it, and a
# lower-ranked status (queued after sent) is ignored; a repeated one is a no-op.

_UNDELIVER_LUA = """
if redis.call('HGET', KEYS[1], ARGV[1]) == 'texted' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0
"""


def record_status(rt, update, now: float) -> str:
    """Apply one status callback; for a failed dispatch text, free the slot or mark the observer unreachable."""
    r = rt.r
    key = store.outbound_key(update.message_sid)
    changed = r.eval(_RANK_LUA, 1, key, update.status, STATUS_ORDER.get(update.status, 0), update.error_code or "")
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
    moved = r.eval(_UNDELIVER_LUA, 1, store.incident_dispatch_key(incident_id), observer_id, new_state)
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
