"""The watchdog and heartbeats: re-drive any dispatch a dead worker left behind, within seconds.

RQ alone would recover a SIGKILLed worker's job only after minutes; the
due-time index (`store.dispatch_due_key`) plus this self-rescheduling job
finds every incident whose fan-out lease or wave deadline lapsed with nobody
holding it. `watchdog` is also importable from `bot.dispatch.waves`, its dotted
path in queued jobs.
"""

from __future__ import annotations

import time

from rq import get_current_job

from .. import runtime, sending, store
from . import digest, lanes, lease
from .drive import START_JOB_FIELD, enqueue_refill
from .plan import JOB_TIMEOUT_S, START_GRACE_S, seconds

WATCHDOG_INTERVAL_S = 2
"""How often the watchdog looks for stalled dispatch: recovery within a few seconds."""

WATCHDOG_TOKEN_TTL_S = 10
"""A watchdog chain that has not run for this long is replaced by `ensure_watchdog`."""

WATCHDOG_FAILURE_TTL_S = 300
"""A failed watchdog run is kept five minutes: the next run already replaced it."""

HEARTBEAT_TTL_S = 30
"""A worker or watchdog that has not beaten for this long is reported stopped by health."""

REDRIVE_BATCH = 100
"""Incidents re-driven per watchdog run; the rest wait two seconds for the next."""


def beat(r, name: str, now: float) -> None:
    """Record that a worker or the watchdog is alive (health reads it)."""
    pipe = r.pipeline(transaction=False)
    pipe.set(store.heartbeat_key(name), f"{now:.3f}", ex=HEARTBEAT_TTL_S)
    pipe.set(store.heartbeat_key(name + ":seen"), f"{now:.3f}")
    pipe.execute()


def redrive_due(rt, now: float) -> list[str]:
    """Enqueue a drive for every incident whose lease or wave deadline has lapsed and nobody holds (on its lane)."""
    if sending.paused(rt.r):
        return []  # nothing could be sent; the pause's probe re-drives everything when it lifts
    due = rt.r.zrangebyscore(store.dispatch_due_key(), "-inf", now, start=0, num=REDRIVE_BATCH)
    waiting = _start_job_waiting(rt, due)
    driven = []
    for incident_id, lane in zip(due, lanes.of_many(rt.r, due)):
        if incident_id in waiting:  # its start job is still queued, its turn to come (a flood's later lane)
            rt.r.zadd(store.dispatch_due_key(), {incident_id: now + START_GRACE_S}, xx=True)
            continue
        if lease.held(rt.r, incident_id):
            continue  # a live worker is fanning it out right now
        enqueue_refill(rt, incident_id, lane)  # on its own lane: a flood's re-drives stay behind real reports
        rt.r.zadd(store.dispatch_due_key(), {incident_id: now + lease.LEASE_S}, xx=True)
        driven.append(incident_id)
    return driven


def _start_job_waiting(rt, incident_ids: list[str]) -> set[str]:
    """The incidents whose first wave has not opened and whose start job is still in its lane's queue (two
    round trips for the batch). A start job taken by a worker that died, or lost with Redis, is not there
    (its own status may still say "queued"): those are re-driven. LPOS walks the queue, a few microseconds
    per thousand jobs waiting."""
    if not incident_ids:
        return set()
    pipe = rt.r.pipeline(transaction=False)
    for incident_id in incident_ids:
        pipe.hmget(store.incident_plan_key(incident_id), "wave", START_JOB_FIELD, lanes.FIELD)
    jobs = {}
    for incident_id, (wave, job_id, lane) in zip(incident_ids, pipe.execute()):
        if job_id and wave in (None, "0"):
            jobs[incident_id] = job_id
            pipe.lpos(rt.queue(lanes.of({lanes.FIELD: lane})).key, job_id)
    return {incident_id for incident_id, at in zip(jobs, pipe.execute()) if at is not None}


def watchdog() -> int:
    """RQ job. Re-drive stalled dispatch, rescue a lost digest flush, beat the heartbeat, schedule the next run."""
    rt = runtime.get()
    job_id = _current_job_id()
    token = store.watchdog_token_key()
    if job_id and rt.r.get(token) not in (None, job_id):
        return 0  # another chain owns the watchdog; let this one end
    driven = redrive_due(rt, time.time())
    digest.rescue(rt, time.time())  # a coordinators' digest whose flush was lost goes now
    beat(rt.r, "watchdog", time.time())
    _schedule_watchdog(rt)
    return len(driven)


def _current_job_id() -> str | None:
    job = get_current_job()
    return job.id if job else None


def _schedule_watchdog(rt) -> str:
    job = rt.queue("dispatch").enqueue_in(
        seconds(WATCHDOG_INTERVAL_S),
        watchdog,
        job_timeout=JOB_TIMEOUT_S,
        result_ttl=0,
        failure_ttl=WATCHDOG_FAILURE_TTL_S,
    )
    rt.r.set(store.watchdog_token_key(), job.id, ex=WATCHDOG_TOKEN_TTL_S)
    return job.id


def ensure_watchdog(rt) -> bool:
    """Start the watchdog chain unless one ran recently; return True if this call started it."""
    if not rt.r.set(store.watchdog_token_key(), "starting", nx=True, ex=WATCHDOG_TOKEN_TTL_S):
        return False
    _schedule_watchdog(rt)
    return True
