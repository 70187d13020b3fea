"""The drive loop: bring one incident's dispatch up to date, one pass at a time.

A pass re-reads everything from Redis (plan, per-observer states, send
records), so any worker can pick up where a dead one stopped: it opens a new
wave when one is due, re-settles texts a dead attempt left unconfirmed, fills
free slots nearest first, schedules the wave's timer and escalates when nobody
is left in range. The jobs here (`start_dispatch`, `wave_timeout`, `refill`)
are also importable from `bot.dispatch.waves`, their dotted path in queued jobs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .. import incidents, observers, outbox, runtime, sending, store
from ..errors import NoSuchIncident, SendingPaused
from . import attention, escalation, fanout, lanes
from .lease import LEASE_S, Lease
from .plan import (
    ACCEPTED,
    CLOSED,
    FILLED,
    JOB_TIMEOUT_S,
    SEEKING,
    SEND_RETRY,
    START_GRACE_S,
    TEXTED,
    UNDELIVERED,
    finish,
    queue_snapshot,
    seconds,
    snapshot_of,
    snapshot_plan,
)

log = logging.getLogger(__name__)

LEASE_MARGIN_S = 1.0
"""Beyond one send's HTTP timeout, a claim with no outcome is surely from a dead sender."""

MAX_PASSES = 10
"""Bounded: each pass handles at most one wave's slots; notes left meanwhile ask for another."""

UNSETTLED = (outbox.CLAIMED, outbox.RELEASED, outbox.UNCERTAIN)
"""Send-record states that mean a text may or may not have gone out."""


# ---- jobs ---------------------------------------------------------------------------
START_JOB_FIELD = "start_job"
"""The plan field naming the incident's start job (an RQ job id): while that job waits its turn in its queue
the watchdog leaves the incident alone (`watchdog.redrive_due`), so a flood's queued dispatches are not
driven twice, and a start job lost with a worker or with Redis is re-driven within START_GRACE_S."""


def enqueue_start(rt, incident_id: str, now: float | None = None, lane: str = lanes.FIRST, why: str = "") -> None:
    """Snapshot a new incident's plan, keep its lane (`lanes`) and why, and enqueue its first wave on that lane.

    A dispatch a coordinator starts or releases by hand goes FIRST; `bot.reports` asks for LATER for a
    contact's later incidents and a crowded place's (docs/abuse.md), `why` saying which (`lanes.why_for`).
    """
    now = time.time() if now is None else now
    pipe = rt.r.pipeline()  # one round trip: the plan, its lane and why, the watchdog's due time, the job
    pipe.multi()  # explicitly, before any command: RQ's enqueue on a pipeline insists on it
    at = queue_snapshot(pipe, rt.settings, incident_id, now)
    pipe.hset(store.incident_plan_key(incident_id), mapping={lanes.FIELD: lane, lanes.WHY_FIELD: why})
    pipe.zadd(store.dispatch_due_key(), {incident_id: now + START_GRACE_S}, nx=True)
    job = rt.queue(lane).enqueue(
        start_dispatch, incident_id, retry=SEND_RETRY, job_timeout=JOB_TIMEOUT_S, pipeline=pipe
    )
    pipe.hset(store.incident_plan_key(incident_id), START_JOB_FIELD, job.id)
    plan = snapshot_of(pipe.execute()[at])
    try:
        incidents.add_event(
            rt.r,
            incident_id,
            "dispatch_planned",
            now,
            wave_size=plan["wave_size"],
            timeout_s=plan["timeout_s"],
            needed=plan["needed"],
            code=plan["code"],
            lane=lane,
            why=why,
        )
    except NoSuchIncident:  # started for an id incidents does not know: the job will say so
        log.warning("dispatch planned for an unknown incident")


def enqueue_refill(rt, incident_id: str, lane: str | None = None) -> None:
    """Queue a drive of an incident's free slots on its lane (read from its plan unless given)."""
    if lane is None:
        lane = lanes.of_many(rt.r, [incident_id])[0]
    rt.queue(lane).enqueue(refill, incident_id, retry=SEND_RETRY, job_timeout=JOB_TIMEOUT_S)


def start_dispatch(incident_id: str) -> str:
    """RQ job. Text the first wave of observers for a new incident."""
    rt = runtime.get()
    return advance(rt, incident_id, time.time())


def wave_timeout(incident_id: str, wave: int) -> str:
    """RQ job. A wave's time ran out: send the next wave if too few accepted."""
    rt = runtime.get()
    return advance(rt, incident_id, time.time(), timed_out_wave=int(wave))


def refill(incident_id: str) -> str:
    """RQ job. Give a freed slot (decline, undelivered) to the next observer now."""
    rt = runtime.get()
    return advance(rt, incident_id, time.time())


# ---- the loop ------------------------------------------------------------------------
def advance(rt, incident_id: str, now: float, timed_out_wave: int | None = None) -> str:
    """Bring an incident's dispatch up to date: new wave if due, free slots filled, escalate if exhausted.

    Holds a short lease so two workers never fan out one incident at once; a
    caller that finds it busy leaves a note the holder picks up before leaving.
    """
    r = rt.r
    if sending.paused(r):
        return "paused"  # the incident stays due; the pause's probe drives it again when sending resumes
    plan_key = store.incident_plan_key(incident_id)
    with Lease(r, incident_id) as held:
        if not held:
            r.hset(plan_key, "again", "1")
            if timed_out_wave is not None:
                r.hset(plan_key, "timed_out", str(timed_out_wave))
            return "busy"
        outcome = "idle"
        for _ in range(MAX_PASSES):
            try:
                outcome = _drive_once(rt, incident_id, now, timed_out_wave)
            except SendingPaused:
                # Our account or sender is broken, not the observers: nothing is marked, the
                # unsent texts stay `texted` with a released send record, and resume re-drives.
                return "paused"
            pipe = r.pipeline(transaction=True)
            pipe.hget(plan_key, "again")
            pipe.hget(plan_key, "timed_out")
            pipe.hdel(plan_key, "again", "timed_out")
            again, timed_out, _ = pipe.execute()
            timed_out_wave = int(timed_out) if timed_out else None
            if not again and not timed_out:
                break
            now = time.time()
        return outcome


@dataclass
class _Pass:
    """What one pass read from Redis, and the wave it works on."""

    rt: object
    incident: dict
    plan: dict
    states: dict[str, str]
    sends: dict[str, dict | None]
    wave: int
    deadline: float
    now: float

    @property
    def incident_id(self) -> str:
        return self.incident["id"]

    def wave_of(self, observer_id: str) -> int:
        return int((self.sends.get(observer_id) or {}).get("wave", self.wave))

    def text(self, observer_id: str, km: float, observer: dict, wave: int) -> str:
        state = fanout.text_one(self.rt, self.incident, self.plan, observer_id, km, observer, wave, self.now)
        self.states[observer_id] = state  # AT_BUDGET only here, so the next pick this pass passes them over
        return state


def _load(r, incident_id: str) -> tuple[dict, dict, dict]:
    pipe = r.pipeline(transaction=False)
    pipe.hgetall(store.incident_plan_key(incident_id))
    pipe.hgetall(store.incident_dispatch_key(incident_id))
    pipe.hgetall(store.incident_sends_key(incident_id))
    plan, states, sends = pipe.execute()
    return plan, states, {k: outbox.read_record(v) for k, v in sends.items()}


def _drive_once(rt, incident_id: str, now: float, timed_out_wave: int | None) -> str:
    r = rt.r
    try:
        incident = incidents.get(r, incident_id)
    except NoSuchIncident:
        r.zrem(store.dispatch_due_key(), incident_id)
        return "missing"
    plan, states, sends = _load(r, incident_id)
    if not plan.get("code"):  # never planned, or planned when every code was held: try for one again
        plan = snapshot_plan(r, rt.settings, incident_id, now)
    ended = _ended(incident, plan, states)
    if ended:
        finish(rt, incident_id, ended)
        return ended
    p = _Pass(rt, incident, plan, states, sends, int(plan["wave"]), float(plan["deadline"]), now)
    new_wave = _open_wave_if_due(p, timed_out_wave)
    free = int(plan["wave_size"]) - sum(
        1 for oid, st in states.items() if st in (TEXTED, ACCEPTED) and p.wave_of(oid) == p.wave
    )
    pending = [oid for oid, st in states.items() if st == TEXTED and _unsettled(sends.get(oid))]
    free += _resettle(p, pending)
    texted, exhausted, interrupted = _fill(p, free)
    if interrupted:
        return f"wave {p.wave}: texted {texted}, filled meanwhile"  # a YES came in mid-wave
    _schedule(p, new_wave, bool(pending))
    outstanding = any(s == TEXTED and p.wave_of(o) == p.wave for o, s in states.items())
    # Exhausted: nobody left in range. Tell coordinators now if nobody is even pending an
    # answer, else when a wave's time ran out with nobody new to ask.
    if exhausted and (not outstanding or (new_wave and p.wave > 1)) and plan.get("escalated") != "1":
        escalation.escalate(rt, incident, plan, states, now)
    return f"wave {p.wave}: texted {texted}"


def _ended(incident: dict, plan: dict, states: dict) -> str | None:
    """CLOSED or FILLED when this dispatch has nothing left to do, else None."""
    if incident["status"] in ("unfounded", "closed") or plan.get("state") == CLOSED:
        return CLOSED
    if sum(1 for s in states.values() if s == ACCEPTED) >= int(plan["needed"]):
        return FILLED
    return None


def _open_wave_if_due(p: _Pass, timed_out_wave: int | None) -> bool:
    """Start the next wave if this is the first, its timer fired, or its deadline passed."""
    wave, deadline = p.wave, p.deadline
    if timed_out_wave is not None:
        # A stale timer for a replaced wave does nothing; so does one that fired before its
        # wave's deadline was moved on after a sending pause (resume.redrive_waiting): the
        # due index opens the next wave at the moved deadline instead.
        due = wave == 0 or (timed_out_wave == wave and p.now >= float(p.plan.get("timer_after") or 0))
    else:
        due = wave == 0 or p.now >= deadline > 0
    if not due:
        return False
    p.wave, p.deadline = wave + 1, p.now + int(p.plan["timeout_s"])
    _retry_transient(p)
    pipe = p.rt.r.pipeline(transaction=True)
    pipe.hset(store.incident_plan_key(p.incident_id), mapping={"wave": p.wave, "deadline": f"{p.deadline:.3f}"})
    pipe.hdel(store.incident_plan_key(p.incident_id), "timer_after")  # the new wave's own timer counts
    # Due again in a lease's time, not at the deadline: a worker that dies before its lease keeper's
    # first renewal (Redis gone mid-send) must leave the wave to the re-drive within seconds. The keeper
    # pushes it on while this worker lives, and `_schedule` sets the real time once the pass is done.
    pipe.zadd(store.dispatch_due_key(), {p.incident_id: min(p.deadline, time.time() + LEASE_S)})
    pipe.execute()
    return True


RETRY_PREFIX, RETRY_DUE, RETRY_DONE = "retry:", "due", "done"
"""Plan fields `retry:<observer>`: a transient failure (status.py) asks that observer again in the next wave."""


def _retry_transient(p: _Pass) -> None:
    """Make observers whose text failed transiently (handset off, 30003) eligible again for the new wave, once.

    Nearest first as ever: `_fill` picks them again if they are still among the nearest free.
    The drive holds the incident's lease, so nobody else changes these states meanwhile.
    """
    due = [k[len(RETRY_PREFIX) :] for k, v in p.plan.items() if k.startswith(RETRY_PREFIX) and v == RETRY_DUE]
    if not due:
        return
    pipe = p.rt.r.pipeline(transaction=True)
    for observer_id in due:
        pipe.hset(store.incident_plan_key(p.incident_id), RETRY_PREFIX + observer_id, RETRY_DONE)
        if p.states.get(observer_id) == UNDELIVERED:
            pipe.hdel(store.incident_dispatch_key(p.incident_id), observer_id)
            pipe.hdel(store.incident_sends_key(p.incident_id), observer_id)
            p.states.pop(observer_id, None)
            p.sends.pop(observer_id, None)
    pipe.execute()


def _unsettled(record: dict | None) -> bool:
    return record is None or record["state"] in UNSETTLED


def _resettle(p: _Pass, pending: list[str]) -> int:
    """Finish texts a dead or failed attempt left unconfirmed (send_once asks Twilio before resending).

    Returns how many slots of the current wave they freed.
    """
    freed = 0
    for observer_id, observer in zip(pending, observers.get_many(p.rt.r, pending)):
        if observer is None:
            continue
        km = float((p.sends.get(observer_id) or {}).get("km") or fanout.km_to(p.incident, observer))
        state = p.text(observer_id, km, observer, p.wave_of(observer_id))
        if state not in (TEXTED, ACCEPTED) and p.wave_of(observer_id) == p.wave:
            freed += 1
    return freed


def _fill(p: _Pass, free: int) -> tuple[int, bool, bool]:
    """Text the nearest free observers until the wave is full; return (texted, exhausted, interrupted)."""
    texted = 0
    budget = attention.Budget(p.rt.r, p.rt.settings, p.now)
    while free > 0:
        picked = fanout.pick(p.rt.r, p.incident, set(p.states), p.now, free, budget)
        if not picked:
            # Everyone left in range is at their attention budget: the dispatch waits for one to free up
            # (the wave's timer drives it again) rather than escalating or texting anyone past it.
            if budget.skipped or p.plan.get("waiting") == "1":
                p.rt.r.hset(store.incident_plan_key(p.incident_id), "waiting", "1" if budget.skipped else "0")
            return texted, not budget.skipped, False
        for observer_id, km, observer in picked:
            if texted and p.rt.r.hget(store.incident_plan_key(p.incident_id), "state") != SEEKING:
                return texted, False, True
            state = p.text(observer_id, km, observer, p.wave)
            if state in (TEXTED, ACCEPTED):
                texted += 1
                free -= 1
            elif state == fanout.AT_BUDGET:  # another incident took their last slot meanwhile: skipped, not asked
                budget.skipped += 1
    if p.plan.get("waiting") == "1":
        p.rt.r.hset(store.incident_plan_key(p.incident_id), "waiting", "0")
    return texted, False, False


RECONCILE_EVERY_S = 5
"""While an unanswered send is being reconciled, Twilio's list is asked again this often."""


def _settle_again_at(rt, records) -> float:
    """When to look again at sends nobody knows the outcome of (inf: none).

    A claim another sender left mid-call is settled once it is surely dead, not at the
    deadline; an attempt Twilio never answered is looked up every few seconds until
    the outbox's reconcile window has passed (then resent if Twilio never listed it).
    """
    now, timeout = time.time(), rt.settings.twilio_timeout_s
    due = float("inf")
    for raw in records:
        record = outbox.read_record(raw) or {}
        if record.get("state") == outbox.CLAIMED:
            due = min(due, now + timeout + LEASE_MARGIN_S)
        elif record.get("state") == outbox.UNCERTAIN and not record.get("answered"):
            due = min(due, now + RECONCILE_EVERY_S)
    return due


def _schedule(p: _Pass, new_wave: bool, had_pending: bool) -> None:
    """Set when the watchdog looks again, and (for a new wave) its timer job and timeline event."""
    r = p.rt.r
    revisit = p.deadline
    if had_pending:
        revisit = min(revisit, _settle_again_at(p.rt, r.hvals(store.incident_sends_key(p.incident_id))))
    r.zadd(store.dispatch_due_key(), {p.incident_id: min(p.deadline, revisit)})
    if new_wave:  # after the texts: the first one is what a scene waits for; the due index covers a crash
        p.rt.queue(lanes.of(p.plan)).enqueue_in(
            seconds(int(p.plan["timeout_s"])),
            wave_timeout,
            p.incident_id,
            p.wave,
            job_id=f"hotline-wave-{p.incident_id}-{p.wave}",
            retry=SEND_RETRY,
            job_timeout=JOB_TIMEOUT_S,
        )
        incidents.add_event(r, p.incident_id, "dispatch_wave", p.now, wave=p.wave, timeout_s=p.plan["timeout_s"])


__all__ = ["advance", "enqueue_start", "enqueue_refill", "start_dispatch", "wave_timeout", "refill", "LEASE_S"]
