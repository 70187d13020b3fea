"""Waves: who gets texted for an incident, when the next wave goes, and when coordinators hear.

All dispatch state lives in Redis (the plan hash, the per-observer state hash,
the per-recipient send records, a due-time index), so any worker can pick up
where a dead one stopped: RQ's scheduler fires wave timeouts, and a watchdog
re-drives any incident whose fan-out lease or wave deadline lapsed.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from datetime import timedelta

import redis
from rq import Retry, get_current_job

from .. import incidents, observers, outbox, runtime, store
from ..errors import NoSuchIncident, PermanentSend
from . import texts

log = logging.getLogger(__name__)

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

LANGUAGE_PREFERENCE_KM = 1.0
"""Two observers closer than this count as equally near; the reporter's language wins."""

START_GRACE_S = 10
"""If a start job has not run this long after enqueue, the watchdog drives the incident."""

LEASE_S = 2.0
"""Lease on an incident's fan-out, renewed by a keeper thread every third of it while the
worker lives: a SIGKILLed worker's wave is taken over about this long after it died."""

LEASE_MARGIN_S = 1.0
"""Beyond one send's HTTP timeout, a claim with no outcome is surely from a dead sender."""

SEND_RETRY = Retry(max=6, interval=[1, 2, 4, 8, 16, 30])
"""20429/5xx backoff for dispatch jobs; send records make every retry safe."""

JOB_TIMEOUT_S = 120
"""RQ timeout for one dispatch job: a wave is a few texts, each with an HTTP timeout."""

CODE_MIN, CODE_SPAN = 10, 90
"""Short per-dispatch codes run 10..99: two digits to type, unique among an observer's open ones."""

OPEN_TTL_S = 24 * 3600
"""An observer's open-dispatch codes are forgotten a day after their last dispatch."""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class _LeaseKeeper(threading.Thread):
    """Renew a fan-out lease (and the incident's due time) while this worker is alive.

    A thread, not a renewal before each send: one send can block for a whole
    HTTP timeout, and the lease must lapse within seconds only if the process died.
    """

    def __init__(self, r, lock: str, token: str, incident_id: str):
        super().__init__(daemon=True, name=f"lease-{incident_id}")
        self.r, self.lock, self.token, self.incident_id = r, lock, token, incident_id
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(LEASE_S / 3):
            try:
                if not self.r.eval(_RENEW_LUA, 1, self.lock, self.token, int(LEASE_S * 1000)):
                    return  # lost the lease (Redis restarted?): the sends' records still guard
                self.r.zadd(store.dispatch_due_key(), {self.incident_id: time.time() + LEASE_S}, xx=True)
            except redis.RedisError:  # the drive itself will fail and be retried; nothing to add
                return


# ---- plan ---------------------------------------------------------------------------
def snapshot_plan(r, settings, incident_id: str, now: float) -> dict:
    """Freeze the dispatch plan (wave size, timeout, needed) and a short code, once per incident."""
    key = store.incident_plan_key(incident_id)
    code = str(CODE_MIN + r.incr(store.dispatch_code_seq_key()) % CODE_SPAN)
    fields = {
        "wave_size": settings.wave_size,
        "timeout_s": settings.wave_timeout_s,
        "needed": settings.observers_needed,
        "code": code,
        "wave": 0,
        "deadline": 0,
        "accepted": 0,
        "state": SEEKING,
        "created_at": f"{now:.3f}",
    }
    pipe = r.pipeline(transaction=True)
    for name, value in fields.items():
        pipe.hsetnx(key, name, value)
    pipe.hgetall(key)
    plan = pipe.execute()[-1]
    return plan


def enqueue_start(rt, incident_id: str, now: float | None = None) -> None:
    """Snapshot a new incident's plan and enqueue its first wave on the `dispatch` queue."""
    now = time.time() if now is None else now
    plan = snapshot_plan(rt.r, rt.settings, incident_id, now)
    rt.r.zadd(store.dispatch_due_key(), {incident_id: now + START_GRACE_S}, nx=True)
    rt.queue("dispatch").enqueue(start_dispatch, incident_id, retry=SEND_RETRY, job_timeout=JOB_TIMEOUT_S)
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
        )
    except NoSuchIncident:  # started for an id incidents does not know: the job will say so
        log.warning("dispatch planned for an unknown incident")


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


def enqueue_refill(rt, incident_id: str) -> None:
    """Queue a refill of an incident's free slots on the `dispatch` queue."""
    rt.queue("dispatch").enqueue(refill, incident_id, retry=SEND_RETRY, job_timeout=JOB_TIMEOUT_S)


# ---- the drive loop --------------------------------------------------------------
def advance(rt, incident_id: str, now: float, timed_out_wave: int | None = None) -> str:
    """Bring an incident's dispatch up to date: new wave if due, free slots filled, escalate if exhausted.

    Holds a short lease so two workers never fan out one incident at once; a
    caller that finds it busy leaves a note the holder picks up before leaving.
    """
    r = rt.r
    lock = store.incident_drive_lock_key(incident_id)
    token = secrets.token_hex(8)
    if not r.set(lock, token, nx=True, px=int(LEASE_S * 1000)):
        r.hset(store.incident_plan_key(incident_id), "again", "1")
        if timed_out_wave is not None:
            r.hset(store.incident_plan_key(incident_id), "timed_out", str(timed_out_wave))
        return "busy"
    keeper = _LeaseKeeper(r, lock, token, incident_id)
    keeper.start()
    try:
        outcome = "idle"
        for _ in range(10):  # bounded: each pass handles at most one wave's slots
            outcome = _drive_once(rt, incident_id, now, timed_out_wave)
            timed_out_wave = None
            pipe = r.pipeline(transaction=True)
            pipe.hget(store.incident_plan_key(incident_id), "again")
            pipe.hget(store.incident_plan_key(incident_id), "timed_out")
            pipe.hdel(store.incident_plan_key(incident_id), "again", "timed_out")
            again, timed_out, _ = pipe.execute()
            if timed_out:
                timed_out_wave = int(timed_out)
            if not again and not timed_out:
                break
            now = time.time()
        return outcome
    finally:
        keeper.done.set()
        r.eval(_RELEASE_LUA, 1, lock, token)


def _load(r, incident_id: str) -> tuple[dict, dict, dict]:
    pipe = r.pipeline(transaction=False)
    pipe.hgetall(store.incident_plan_key(incident_id))
    pipe.hgetall(store.incident_dispatch_key(incident_id))
    pipe.hgetall(store.incident_sends_key(incident_id))
    plan, states, sends = pipe.execute()
    return plan, states, {k: outbox.read_record(v) for k, v in sends.items()}


def _drive_once(rt, incident_id: str, now: float, timed_out_wave: int | None) -> str:
    r, settings = rt.r, rt.settings
    try:
        incident = incidents.get(r, incident_id)
    except NoSuchIncident:
        r.zrem(store.dispatch_due_key(), incident_id)
        return "missing"
    plan, states, sends = _load(r, incident_id)
    if not plan:
        plan = snapshot_plan(r, settings, incident_id, now)
    if incident["status"] in ("unfounded", "closed") or plan.get("state") == CLOSED:
        finish(rt, incident_id, CLOSED)
        return CLOSED
    needed, wave_size = int(plan["needed"]), int(plan["wave_size"])
    accepted = sum(1 for s in states.values() if s == ACCEPTED)
    if accepted >= needed:
        finish(rt, incident_id, FILLED)
        return FILLED
    wave, deadline = int(plan["wave"]), float(plan["deadline"])
    new_wave = wave == 0 or timed_out_wave == wave or (timed_out_wave is None and now >= deadline > 0)
    if timed_out_wave is not None and timed_out_wave != wave and wave != 0:
        new_wave = False  # a stale timer for a wave already replaced
    if new_wave:
        wave, deadline = wave + 1, now + int(plan["timeout_s"])
        pipe = r.pipeline(transaction=True)
        pipe.hset(store.incident_plan_key(incident_id), mapping={"wave": wave, "deadline": f"{deadline:.3f}"})
        pipe.zadd(store.dispatch_due_key(), {incident_id: deadline})
        pipe.execute()

    def wave_of(oid: str) -> int:
        return int((sends.get(oid) or {}).get("wave", wave))

    used = sum(1 for oid, st in states.items() if st in (TEXTED, ACCEPTED) and wave_of(oid) == wave)
    free = wave_size - used
    texted = 0
    # Texts a dead or failed attempt left unconfirmed go first (send_once asks Twilio before resending).
    pending = [
        oid
        for oid, st in states.items()
        if st == TEXTED
        and (sends.get(oid) is None or sends[oid]["state"] in (outbox.CLAIMED, outbox.RELEASED, outbox.UNCERTAIN))
    ]
    for observer_id, observer in zip(pending, observers.get_many(r, pending)):
        if observer is None:
            continue
        km = float((sends.get(observer_id) or {}).get("km") or _km(incident, observer))
        states[observer_id] = _text_one(rt, incident, plan, observer_id, km, observer, wave_of(observer_id), now)
        if states[observer_id] not in (TEXTED, ACCEPTED) and wave_of(observer_id) == wave:
            free += 1
    exhausted = False
    while free > 0:
        picked = _pick(r, incident, set(states), now, free)
        if not picked:
            exhausted = True
            break
        for observer_id, km, observer in picked:
            if texted and r.hget(store.incident_plan_key(incident_id), "state") != SEEKING:
                return f"wave {wave}: texted {texted}, filled meanwhile"  # a YES came in mid-wave
            state = _text_one(rt, incident, plan, observer_id, km, observer, wave, now)
            states[observer_id] = state
            if state in (TEXTED, ACCEPTED):
                texted += 1
                free -= 1
    # A claim another sender left mid-call is settled once it is surely dead, not at the deadline.
    unsettled = (
        any(
            (outbox.read_record(v) or {}).get("state") == outbox.CLAIMED
            for v in r.hvals(store.incident_sends_key(incident_id))
        )
        if pending
        else False
    )
    revisit = time.time() + rt.settings.twilio_timeout_s + LEASE_MARGIN_S if unsettled else deadline
    r.zadd(store.dispatch_due_key(), {incident_id: min(deadline, revisit)})
    if new_wave:  # after the texts: the first one is what a scene waits for; the due index covers a crash
        rt.queue("dispatch").enqueue_in(
            _seconds(int(plan["timeout_s"])),
            wave_timeout,
            incident_id,
            wave,
            job_id=f"hotline-wave-{incident_id}-{wave}",
            retry=SEND_RETRY,
            job_timeout=JOB_TIMEOUT_S,
        )
        incidents.add_event(r, incident_id, "dispatch_wave", now, wave=wave, timeout_s=plan["timeout_s"])
    outstanding = any(s == TEXTED and (sends.get(o) or {}).get("wave", wave) == wave for o, s in states.items())
    # Exhausted: nobody left in range. Tell coordinators now if nobody is even pending an
    # answer, else when a wave's time ran out with nobody new to ask.
    if exhausted and (not outstanding or (new_wave and wave > 1)) and plan.get("escalated") != "1":
        escalate(rt, incident, plan, states, now)
    return f"wave {wave}: texted {texted}"


def _km(incident: dict, observer: dict) -> float:
    """Great-circle distance from an observer's home to the incident."""
    la1, lo1 = math.radians(incident["lat"]), math.radians(incident["lon"])
    la2, lo2 = math.radians(float(observer["lat"])), math.radians(float(observer["lon"]))
    a = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _seconds(s: int) -> timedelta:
    return timedelta(seconds=s)


def _pick(r, incident: dict, exclude: set[str], now: float, count: int) -> list[tuple[str, float, dict]]:
    """Choose the next observers: nearest on duty, the reporter's language winning near-ties."""
    if incident.get("lat") is None:
        return []
    found = observers.candidates_near(
        r, incident["lat"], incident["lon"], now, exclude=exclude, limit=count, tie_km=LANGUAGE_PREFERENCE_KM
    )
    lang = incident.get("language") or "en"

    def rank(item):
        _, km, obs = item
        bonus = LANGUAGE_PREFERENCE_KM if lang in observers.languages_of(obs) else 0.0
        return km - bonus

    found.sort(key=rank)
    return found[:count]


def _text_one(
    rt, incident: dict, plan: dict, observer_id: str, km: float, observer: dict, wave: int, now: float
) -> str:
    """Text one observer the dispatch (at most once ever) and return their new state."""
    r, settings = rt.r, rt.settings
    incident_id, code = incident["id"], plan["code"]
    e164 = observers.number_of(settings, observer)
    pipe = r.pipeline(transaction=False)
    pipe.hsetnx(store.incident_dispatch_key(incident_id), observer_id, TEXTED)
    pipe.hset(store.observer_open_key(observer_id), code, incident_id)
    pipe.expire(store.observer_open_key(observer_id), OPEN_TTL_S)
    pipe.execute()
    if not e164:
        return _set_unreachable(rt, incident_id, observer_id, observer, "sealed under another secret", now)
    lang = observers.language_of(observer)
    body = texts.say(
        settings,
        lang,
        texts.DISPATCH,
        code=code,
        km=f"{km:.1f}",
        kind=texts.kind_name(settings, lang, incident.get("kind", "other")),
        place=_place(incident),
    )
    try:
        record = outbox.send_once(
            rt,
            store.incident_sends_key(incident_id),
            observer_id,
            e164,
            body,
            purpose="dispatch",
            now=now,
            ref={"incident_id": incident_id, "observer_id": observer_id},
            extra={"wave": wave, "km": f"{km:.1f}"},
        )
    except PermanentSend as exc:
        return _set_unreachable(rt, incident_id, observer_id, observer, str(exc.code or "refused"), now)
    if record["state"] == outbox.SUPPRESSED:
        return _set_unreachable(rt, incident_id, observer_id, observer, "opted out", now, tell=False)
    if record["state"] == outbox.FAILED:
        return r.hget(store.incident_dispatch_key(incident_id), observer_id) or UNREACHABLE
    if record.get("new"):
        # Counted against the number's rate after the fact: a dispatch text never waits,
        # it pushes bulk sends back instead.
        outbox.take_send_slot(r, outbox.sender_of(settings), settings.send_rate, time.time(), priority=True)
        incidents.add_event(
            r,
            incident_id,
            "dispatch_texted",
            now,
            observer=observer_id,
            name=observer.get("name", ""),
            wave=wave,
            km=f"{km:.1f}",
        )
    return r.hget(store.incident_dispatch_key(incident_id), observer_id) or TEXTED


def _set_unreachable(
    rt, incident_id: str, observer_id: str, observer: dict, reason: str, now: float, tell: bool = True
) -> str:
    rt.r.hset(store.incident_dispatch_key(incident_id), observer_id, UNREACHABLE)
    incidents.add_event(
        rt.r,
        incident_id,
        "dispatch_unreachable",
        now,
        observer=observer_id,
        name=observer.get("name", ""),
        reason=reason,
    )
    if tell:
        observers.mark_unreachable(rt.r, observer_id, reason, now)
        text_coordinators(
            rt, texts.say(rt.settings, "en", texts.UNREACHABLE, name=observer.get("name", "?"), reason=reason)
        )
    return UNREACHABLE


def _place(incident: dict) -> str:
    label = (incident.get("details") or {}).get("label") or ""
    if incident.get("lat") is None:
        return label or "?"
    coords = f"{incident['lat']:.5f},{incident['lon']:.5f}"
    return f"{label} ({coords})" if label else coords


def map_link(incident: dict) -> str:
    """A maps link observers can tap (precise: observers need the exact place)."""
    if incident.get("lat") is None:
        return ""
    return f"https://maps.google.com/?q={incident['lat']:.5f},{incident['lon']:.5f}"


# ---- endings -------------------------------------------------------------------
def finish(rt, incident_id: str, state: str) -> None:
    """Mark an incident's dispatch filled or closed and stop its timers."""
    pipe = rt.r.pipeline(transaction=True)
    pipe.hset(store.incident_plan_key(incident_id), "state", state)
    pipe.zrem(store.dispatch_due_key(), incident_id)
    pipe.execute()


def text_coordinators(rt, body: str, records_key: str | None = None, tag: str = "escalation") -> int:
    """Text every coordinator (never rate-delayed: escalations are urgent); return how many got it.

    With a records key each coordinator gets this text at most once, however
    often the job is retried.
    """
    sent = 0
    for index, e164 in enumerate(rt.settings.coordinators):
        try:
            if records_key:
                record = outbox.send_once(
                    rt, records_key, f"{tag}:coordinator{index}", e164, body, purpose="escalation", now=time.time()
                )
                sent += record["state"] == outbox.SENT
            elif outbox.send(rt, e164, body, purpose="escalation"):
                sent += 1
        except PermanentSend:  # one bad coordinator number must not silence the others
            log.warning("a coordinator number refused an escalation")
    return sent


def escalate(rt, incident: dict, plan: dict, states: dict, now: float) -> None:
    """Tell coordinators nobody (or too few) in range accepted, naming who declined or never answered."""
    r = rt.r
    incident_id = incident["id"]
    if r.hget(store.incident_plan_key(incident_id), "escalated") == "1":
        return
    ids = list(states)
    names = {oid: (obs or {}).get("name", "?") for oid, obs in zip(ids, observers.get_many(r, ids))}

    def who(state: str) -> str:
        found = [names[o] for o, s in states.items() if s == state]
        return ", ".join(found) or texts.say(rt.settings, "en", texts.NONE)

    body = texts.say(
        rt.settings,
        "en",
        texts.ESCALATE,
        ref=incident["ref"],
        kind=texts.kind_name(rt.settings, "en", incident.get("kind", "other")),
        place=_place(incident),
        needed=plan["needed"],
        accepted=sum(1 for s in states.values() if s == ACCEPTED),
        declined=who(DECLINED),
        silent=who(TEXTED),
        unreachable=who(UNREACHABLE)
        if any(s in (UNREACHABLE, UNDELIVERED) for s in states.values())
        else texts.say(rt.settings, "en", texts.NONE),
    )
    sent = text_coordinators(rt, body, store.incident_sends_key(incident_id), "escalated")
    if not r.hsetnx(store.incident_plan_key(incident_id), "escalated", "1"):
        return  # a concurrent drive escalated too; the send records kept it to one text each
    incidents.add_event(
        r,
        incident_id,
        "dispatch_escalated",
        now,
        coordinators=sent,
        declined=sum(1 for s in states.values() if s == DECLINED),
        silent=sum(1 for s in states.values() if s == TEXTED),
    )


# ---- the watchdog ----------------------------------------------------------------
WATCHDOG_INTERVAL_S = 2
"""How often the watchdog looks for stalled dispatch: recovery within a few seconds."""

WATCHDOG_TOKEN_TTL_S = 10
"""A watchdog chain that has not run for this long is replaced by `ensure_watchdog`."""


HEARTBEAT_TTL_S = 30
"""A worker or watchdog that has not beaten for this long is reported stopped by health."""


def beat(r, name: str, now: float) -> None:
    """Record that a worker or the watchdog is alive (health reads it)."""
    pipe = r.pipeline(transaction=False)
    pipe.set(store.heartbeat_key(name), f"{now:.3f}", ex=HEARTBEAT_TTL_S)
    pipe.set(store.heartbeat_key(name + ":seen"), f"{now:.3f}")
    pipe.execute()


def redrive_due(rt, now: float) -> list[str]:
    """Enqueue a drive for every incident whose lease or wave deadline has lapsed and nobody holds."""
    due = rt.r.zrangebyscore(store.dispatch_due_key(), "-inf", now, start=0, num=100)
    driven = []
    for incident_id in due:
        if rt.r.exists(store.incident_drive_lock_key(incident_id)):
            continue  # a live worker is fanning it out right now
        rt.queue("dispatch").enqueue(refill, incident_id, retry=SEND_RETRY, job_timeout=JOB_TIMEOUT_S)
        rt.r.zadd(store.dispatch_due_key(), {incident_id: now + LEASE_S}, xx=True)
        driven.append(incident_id)
    return driven


def watchdog() -> int:
    """RQ job. Re-drive stalled dispatch, beat the heartbeat, and schedule the next run."""
    rt = runtime.get()
    job_id = _current_job_id()
    token = store.watchdog_token_key()
    if job_id and rt.r.get(token) not in (None, job_id):
        return 0  # another chain owns the watchdog; let this one end
    driven = redrive_due(rt, time.time())
    beat(rt.r, "watchdog", time.time())
    _schedule_watchdog(rt)
    return len(driven)


def _current_job_id() -> str | None:
    job = get_current_job()
    return job.id if job else None


def _schedule_watchdog(rt) -> str:
    job = rt.queue("dispatch").enqueue_in(
        _seconds(WATCHDOG_INTERVAL_S), watchdog, job_timeout=JOB_TIMEOUT_S, result_ttl=0, failure_ttl=300
    )
    rt.r.set(store.watchdog_token_key(), job.id, ex=WATCHDOG_TOKEN_TTL_S)
    return job.id


def ensure_watchdog(rt) -> bool:
    """Start the watchdog chain unless one ran recently; return True if this call started it."""
    if not rt.r.set(store.watchdog_token_key(), "starting", nx=True, ex=WATCHDOG_TOKEN_TTL_S):
        return False
    _schedule_watchdog(rt)
    return True
