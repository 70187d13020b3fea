"""One phone call's state in Redis: language, where in the menu, who was rung, who took it.

A call lives for `CALL_TTL_S` (one raid's span, as a reporter's sealed
follow-up number does) and then is forgotten; the caller's number is only ever
stored sealed (privacy.seal), and is unsealed for the dispatcher who took the
call. Every write also touches `calls_key`, the console's list.
"""

from __future__ import annotations

import json

from .. import privacy, store

CALL_TTL_S = 12 * 3600
"""How long a call is remembered (and its caller's sealed number kept): one raid's span."""

STATES = ("menu", "ringing", "taken", "missed", "texted", "rights", "ended")
"""Where a call is: in the menu, ringing dispatchers, with a dispatcher, nobody answered,
sent a text instead, listening to know-your-rights, over."""

SHOWN_STATES = ("ringing", "taken", "missed")
"""Calls the console's board lists: the ones a dispatcher may have to act on."""


def begin(r, secret: str, call_sid: str, caller: str, lang: str, now: float) -> dict:
    """Record a new call (or return the one already recorded: Twilio may ask twice)."""
    key = store.call_key(call_sid)
    fields = {
        "sid": call_sid,
        "contact_id": privacy.contact_id(secret, caller),
        "sealed": privacy.seal(secret, caller),
        "lang": lang,
        "state": "menu",
        "started_at": f"{now:.3f}",
        "updated_at": f"{now:.3f}",
    }
    pipe = r.pipeline(transaction=True)
    pipe.hsetnx(key, "sid", call_sid)
    pipe.hgetall(key)
    created, existing = pipe.execute()
    if created:
        pipe = r.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, CALL_TTL_S)
        pipe.zadd(store.calls_key(), {call_sid: now})
        pipe.zremrangebyscore(store.calls_key(), "-inf", now - CALL_TTL_S)
        pipe.execute()
        return fields
    return existing


def get(r, call_sid: str) -> dict | None:
    """A call's stored fields (with `dialed` and `legs` read back as lists/dicts), or None."""
    data = r.hgetall(store.call_key(call_sid))
    if not data or "contact_id" not in data:
        return None
    data["dialed"] = json.loads(data.get("dialed") or "[]")
    data["legs"] = json.loads(data.get("legs") or "{}")
    return data


def update(r, call_sid: str, now: float, **fields) -> None:
    """Change some fields of a known call (lists and dicts stored as JSON)."""
    flat = {k: json.dumps(v) if isinstance(v, list | dict) else str(v) for k, v in fields.items()}
    flat["updated_at"] = f"{now:.3f}"
    key = store.call_key(call_sid)
    if not r.exists(key):
        return
    r.hset(key, mapping=flat)


def take(r, call_sid: str, dispatcher: str, now: float) -> bool:
    """Give the call to the first dispatcher who pressed 1; False when someone else already has it."""
    key = store.call_key(call_sid)
    if not r.hsetnx(key, "taken_by", dispatcher):
        return r.hget(key, "taken_by") == dispatcher
    r.hset(key, mapping={"state": "taken", "updated_at": f"{now:.3f}"})
    return True


def set_leg(r, call_sid: str, index: int, status: str, now: float) -> None:
    """Record one dispatcher's phone status (ringing, answered, busy, no-answer, failed, completed)."""
    call = get(r, call_sid)
    if call is None:
        return
    legs = call["legs"]
    legs[str(index)] = status
    update(r, call_sid, now, legs=legs)


def caller_number(r, secret: str, call_sid: str) -> str | None:
    """The caller's number, unsealed (only for the dispatcher who took the call, and for texting them)."""
    sealed = r.hget(store.call_key(call_sid), "sealed")
    return privacy.unseal(secret, sealed) if sealed else None


def recent(r, now: float) -> list[dict]:
    """Calls of the last CALL_TTL_S a dispatcher may act on (ringing, taken, missed), newest first."""
    sids = r.zrevrangebyscore(store.calls_key(), "+inf", now - CALL_TTL_S)
    found = [get(r, sid) for sid in sids]
    return [c for c in found if c is not None and c.get("state") in SHOWN_STATES]


FINISHED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
"""The caller's call status when it is over (the number's status callback)."""


def finish(r, call_sid: str, status: str, now: float) -> None:
    """The caller hung up (or the call failed): a call still ringing dispatchers becomes a missed one."""
    call = get(r, call_sid)
    if call is None:
        return
    state = call.get("state")
    if state == "ringing":
        state = "missed"
    elif state in ("menu", "rights"):
        state = "ended"
    update(r, call_sid, now, state=state, ended_at=f"{now:.3f}", call_status=status)
