"""An incident's dispatch plan: its states, the frozen plan hash, and how its jobs are queued.

The plan (wave size, timeout, observers needed, a short code) is snapshotted
once per incident, so a coordinator changing the settings mid-raid never
changes a dispatch already under way. Every dispatch job is enqueued with
`SEND_RETRY` and `JOB_TIMEOUT_S` from here.
"""

from __future__ import annotations

from datetime import timedelta

from rq import Retry

from .. import incidents, lua, store

TEXTED, ACCEPTED, DECLINED, COVERED, UNDELIVERED, UNREACHABLE = (
    "texted",
    "accepted",
    "declined",
    "covered",
    "undelivered",
    "unreachable",
)
"""Per-observer dispatch states (incidents.list_open counts texted/accepted)."""

SEEKING, FILLED, CLOSED = "seeking", "filled", "closed"
"""Plan states of an incident's dispatch."""

START_GRACE_S = incidents.DISPATCH_DUE_S
"""If a start job has not run this long after enqueue, the watchdog drives the incident."""

SEND_RETRY = Retry(max=12, interval=[1, 2, 4, 8, 16, 30, 60])
"""5xx/timeout backoff for dispatch jobs (~7 minutes in all); send records make every retry safe.

A 429 storm does not spend it: a rate limit pauses sending (bot/sending.py) and a
paused dispatch job returns instead of failing; the resume drives it again."""

COORDINATOR_RETRY = Retry(max=40, interval=[1, 2, 4, 8, 16, 30, 60, 120, 300])
"""Coordinator texts (call-back requests, unplaced reports) outlast a long pause: ~2.6 hours of retries."""

JOB_TIMEOUT_S = 120
"""RQ timeout for one dispatch job: a wave is a few texts, each with an HTTP timeout."""

CODE_RANGES = ((10, 90), (100, 900), (1000, 9000))
"""Dispatch codes: 10..99 (two digits to type), then 100..999 if ninety incidents are open at once, then
1000..9999 (a flood can open a thousand; before, the thousandth open incident found no code and its report
failed).

A code is unique among open incidents, so it is unique among any observer's open dispatches:
"YES 11" can never accept another incident than the one texted as 11. One code per incident (not one
per observer) so the console, the CLI and two observers on the phone all say the same number."""

CODE_PROBES = 64
"""Codes looked at per range before trying the next, longer one: a nearly full range costs a few
microseconds more, never a scan of every open incident on the webhook's path."""


def snapshot_plan(r, settings, incident_id: str, now: float) -> dict:
    """Freeze the dispatch plan (wave size, timeout, needed) and a short code, once per incident."""
    pipe = r.pipeline(transaction=True)
    at = queue_snapshot(pipe, settings, incident_id, now)
    return snapshot_of(pipe.execute()[at])


def queue_snapshot(pipe, settings, incident_id: str, now: float) -> int:
    """Queue the plan's snapshot on a MULTI pipeline (`enqueue_start` sends more with it); return the index
    of the answer to give `snapshot_of`. A plan keeps the code and the fields it already has."""
    key = store.incident_plan_key(incident_id)
    _queue_code_take(pipe, incident_id, plan_key=key)
    fields = {
        "wave_size": settings.wave_size,
        "timeout_s": settings.wave_timeout_s,
        "needed": settings.observers_needed,
        "wave": 0,
        "deadline": 0,
        "accepted": 0,
        "state": SEEKING,
        "created_at": f"{now:.3f}",
    }
    for name, value in fields.items():
        pipe.hsetnx(key, name, value)
    pipe.hgetall(key)
    return len(pipe) - 1


def snapshot_of(plan: dict) -> dict:
    """The plan a queued snapshot read back; raise if it could not be given a code."""
    if not plan.get("code"):
        raise RuntimeError("no free dispatch code: every one probed is held by an open incident")
    return plan


def allocate_code(r, incident_id: str) -> str:
    """Take the next dispatch code no open incident holds (`bot/lua/code_take.lua`: one round trip, bounded).

    Codes rotate (a code just freed is not given out again at once, so a late YES to it finds nothing
    rather than a new incident), shortest range first.
    """
    code = _queue_code_take(r, incident_id)
    if not code:
        raise RuntimeError("no free dispatch code: every one probed is held by an open incident")
    return str(code)


def _queue_code_take(r, incident_id: str, **plan_key):
    """Run (or, on a pipeline, queue) code_take.lua; with `plan_key=` the code goes into that plan."""
    return lua.run(
        r,
        "code_take",
        [store.dispatch_codes_key(), store.dispatch_code_seq_key()],
        incident_id=incident_id,
        ranges=CODE_RANGES,
        probes=CODE_PROBES,
        incident_tpl=store.incident_key("@ID@"),
        open_statuses=incidents.OPEN_STATUSES,
        **plan_key,
    )


def reclaim_code(r, incident_id: str) -> str | None:
    """Give a reopened incident its code back, or a fresh one if a newer open incident took it meanwhile."""
    key = store.incident_plan_key(incident_id)
    code = r.hget(key, "code")
    if code is None:
        return None  # never dispatched: a code comes with its first plan
    codes = store.dispatch_codes_key()
    if r.hsetnx(codes, code, incident_id) or r.hget(codes, code) == incident_id:
        return code
    fresh = allocate_code(r, incident_id)
    r.hset(key, "code", fresh)
    _renumber(r, incident_id, code, fresh)
    return fresh


def _renumber(r, incident_id: str, old: str, new: str) -> None:
    """Move an incident's entry in its observers' open dispatches from its old code to its new one.

    The old code now names another open incident: an observer who still had it
    must never reach that one with it (a reply with the old code gets "no open
    dispatch" and the list of their codes, which shows the new one).
    """
    observer_ids = r.hkeys(store.incident_dispatch_key(incident_id))
    if not observer_ids:
        return
    pipe = r.pipeline(transaction=False)
    for observer_id in observer_ids:
        pipe.hget(store.observer_open_key(observer_id), old)
    holders = [o for o, held in zip(observer_ids, pipe.execute()) if held == incident_id]
    for observer_id in holders:
        pipe.hdel(store.observer_open_key(observer_id), old)
        pipe.hset(store.observer_open_key(observer_id), new, incident_id)
    pipe.execute()


def seconds(s: float) -> timedelta:
    """A delay for `Queue.enqueue_in`."""
    return timedelta(seconds=s)


def finish(rt, incident_id: str, state: str) -> None:
    """Mark an incident's dispatch filled or closed and stop its timers."""
    pipe = rt.r.pipeline(transaction=True)
    pipe.hset(store.incident_plan_key(incident_id), "state", state)
    pipe.zrem(store.dispatch_due_key(), incident_id)
    pipe.execute()
