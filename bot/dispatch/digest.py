"""The coordinators' digest: events that need a human are batched, at most one text a minute.

A flood (500 reports nobody can place, 200 call-back requests, a trap at one
spot, 1,000 incidents nobody in range can take) must not become hundreds of
texts on the coordinators' phones, and a quiet night's one unplaced report or
escalation must not wait. So every such event is `note`d here instead of texted
(escalations, unreachable observers and refused texts by `escalation.py`):

- the first event of a quiet period goes out at once (a flush job is enqueued
  at the front of `dispatch` immediately, so a flood's backlog of dispatch jobs
  does not hold it) — told in full when the batch is that one event (the
  caller's words, a call-back's number, an escalation's who-declined), or two
  noted in the same instant (a dead number and the escalation it causes);
- every event after it, until `WINDOW_S` after that text, is only counted; one
  flush at the end of the window sends the counts per kind ("3 unplaced reports,
  1 call-back request, 1 unusual burst (ref K3X9P) since 8:02 PM — details on the
  console"), and the console's queue and board have the details;
- then the next event opens the next window the same way.

The window lives in Redis (`store.digest_key`), changed only by one Lua script
(`bot/lua/digest.lua`): concurrent workers can never send two digests in one
window or lose a count. The flush is an RQ job scheduled with `enqueue_in`; it
takes the batch into an in-flight hash and sends it through
`coordinators.text_coordinators` with send records keyed by the batch, so an RQ
retry (Twilio 5xx/429) or a second flusher texts each coordinator at most once.
A flush that never ran (worker SIGKILLed, scheduler down) is found by the
watchdog (`rescue`), so a counted event is never left untold.

`note` is one Lua call (plus one enqueue for the first event of a window): safe
on the webhook's path.
"""

from __future__ import annotations

import logging
import time
import uuid

from rq import get_current_job

from .. import incidents, lua, privacy, runtime, store
from ..i18n import N_, local_time
from . import coordinators, texts
from .plan import JOB_TIMEOUT_S, seconds

log = logging.getLogger(__name__)

WINDOW_S = 60
"""At most one digest text per this many seconds: a flood costs coordinators one text a minute."""

KEEP_S = 12 * 3600
"""Counts (and a batch of one's text) wait at most one raid's span for a sender, like the console's queue."""

GRACE_S = 30
"""A flush this late has been lost (a killed worker, a stopped scheduler): the watchdog enqueues another."""

STALE_S = JOB_TIMEOUT_S
"""A batch in flight this long has no live sender (RQ stops a job at its timeout): another flush takes it over."""

EVENT_TTL_S = 600
"""A noted event id is remembered this long, so an RQ retry of the job that noted it counts it once."""

REFS_MAX = 3
"""Incident refs named per kind in a digest; the console lists the rest."""

FULL_MAX = 2
"""A batch of this few events, each with its text, is told in full, in one text: an event and the one it causes
in the same instant (an observer's dead number and the escalation it leaves, in one drive) are both read whole."""

FULL_MAX_CHARS = 1200
"""Longer than this, even a batch of FULL_MAX is told by counts (Twilio refuses a body over 1,600 characters)."""

NUMBER_SLOT = "{number}"
"""Where a batch of one's text shows a sealed number: filled in (unsealed) only when it is sent."""

KINDS = {
    "escalated": (N_("1 incident without enough observers"), N_("{n} incidents without enough observers")),
    "refused": (N_("1 incident whose texts the carrier refuses"), N_("{n} incidents whose texts the carrier refuses")),
    "unreachable": (N_("1 observer who cannot be texted"), N_("{n} observers who cannot be texted")),
    "alerts_undelivered": (
        N_("1 incident whose WhatsApp alerts failed"),
        N_("{n} incidents whose WhatsApp alerts failed"),
    ),
    "unplaced": (N_("1 unplaced report"), N_("{n} unplaced reports")),
    "callback": (N_("1 call-back request"), N_("{n} call-back requests")),
    "unusual": (N_("1 unusual burst of new reporters"), N_("{n} unusual bursts of new reporters")),
    "flood": (N_("1 flood warning"), N_("{n} flood warnings")),
    "held": (N_("1 held report"), N_("{n} held reports")),
    "missed_call": (N_("1 missed call"), N_("{n} missed calls")),
}
"""What a digest counts, in the order it lists them (one and many, as gettext msgids): what dispatch cannot do
without a coordinator first."""

DIGEST = N_("Hotline: {counts} since {since}. Details on the console.")
WITH_REFS = N_("{what} ({refs})")

SCHEDULED, BATCHED, SEEN = "scheduled", "batched", "seen"
"""What `note` did: opened a window (a flush is queued), counted into one, or ignored a repeat."""


def _keys(event: str = "") -> list[str]:
    return [
        store.digest_key("pending"),
        store.digest_key("last"),
        store.digest_key("due"),
        store.digest_key("inflight"),
        store.digest_key("inflight_id"),
        store.digest_key(f"event:{event}"),
    ]


def _run(rt, mode: str, now: float, event: str = "", **args):
    return lua.run(
        rt.r,
        "digest",
        _keys(event),
        mode=mode,
        now=f"{now:.3f}",
        window_s=WINDOW_S,
        keep_s=KEEP_S,
        grace_s=GRACE_S,
        event=event,
        **args,
    )


def note(
    rt,
    kind: str,
    incident_id: str | None = None,
    *,
    event: str | None = None,
    detail: str = "",
    sealed: str = "",
    now: float | None = None,
) -> str:
    """Count one event for the coordinators' next digest; return SCHEDULED, BATCHED or SEEN.

    `kind` is a key of KINDS. `incident_id` names the incident in the digest
    (by ref). `event` makes the note idempotent: a job retried by RQ passes the
    same id and is counted once (default: the current RQ job's id plus the kind;
    none outside a job). `detail` is the text sent when this event is alone in
    its batch; it may hold a caller's words but never a number in clear: put a
    sealed number in `sealed` and `NUMBER_SLOT` in the text.
    """
    if kind not in KINDS:
        raise ValueError(f"digest kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if event is None:
        job = get_current_job()
        event = f"{job.id}:{kind}" if job else ""
    now = time.time() if now is None else now
    ref = _ref(incident_id) if incident_id else ""
    outcome, due = _run(
        rt,
        "note",
        now,
        event,
        kind=kind,
        ref=ref,
        detail=detail,
        sealed=sealed,
        event_ttl_s=EVENT_TTL_S,
        refs_max=REFS_MAX,
        full_max=FULL_MAX,
    )
    if outcome == SCHEDULED:
        _schedule(rt, float(due), now)
    return str(outcome)


def _ref(incident_id: str) -> str:
    """An incident's human ref; an unplaced report's own ref (`U12`) as it is."""
    return incidents.ref_for(incident_id) if str(incident_id).isdigit() else str(incident_id)


def _schedule(rt, at: float, now: float):
    """Queue the flush for `at` (now, if that has passed): at the front of `dispatch`, with RQ Retry and a short
    failure TTL. At the front: a flood queues a dispatch job per incident, and its escalations must not wait
    behind them (a flush is one text per coordinator)."""
    delay = at - now
    if delay < 1:  # due now (`at` is rounded to the millisecond)
        return coordinators.enqueue(rt, flush, f"{at:.3f}", description="digest flush", at_front=True)
    return coordinators.enqueue(rt, flush, f"{at:.3f}", description="digest flush", delay=seconds(delay), at_front=True)


def flush(due: str = "0") -> int:
    """RQ job. Send the waiting batch (or the one a dead sender left in flight); return texts sent.

    `due` is when the job was scheduled for: RQ never runs it earlier, so the
    window is judged from it when the worker's clock reads earlier still.
    """
    rt = runtime.get()
    job = get_current_job()
    batch_id = job.id if job else uuid.uuid4().hex  # an RQ retry of this job resends its own batch
    sent = 0
    for _ in range(2):  # a batch left in flight first, then the waiting one
        now = max(time.time(), float(due or 0))
        reply = _run(rt, "take", now, batch_id=batch_id, stale_s=STALE_S)
        outcome = reply[0]
        if outcome == "early":
            _schedule(rt, float(reply[1]), now)
            return sent
        if outcome in ("empty", "busy"):
            return sent
        batch_id, batch = reply[1], dict(zip(reply[2::2], reply[3::2]))
        records = store.job_sends_key(f"digest:{batch_id}")
        try:
            sent += coordinators.text_coordinators(rt, body(rt, batch), records, tag="digest")
        finally:
            rt.r.expire(records, coordinators.RECORDS_TTL_S)
        _run(rt, "done", now, batch_id=batch_id)
        if outcome == "send":
            return sent
    return sent


def body(rt, batch: dict) -> str:
    """The text of one batch: a lone event (or up to FULL_MAX, each with its text) in full, otherwise the counts
    per kind and the console."""
    total = int(batch.get("total") or 0)
    suffixes = ["", *(str(i) for i in range(2, total + 1))] if total <= FULL_MAX else []
    if suffixes and all(batch.get(f"detail{s}") for s in suffixes):
        told = [_filled(rt, batch[f"detail{s}"], batch.get(f"sealed{s}", "")) for s in suffixes]
        text = "\n\n".join(told)
        if total == 1 or len(text) <= FULL_MAX_CHARS:
            return text
    parts = []
    for kind, (one, many) in KINDS.items():
        n = int(batch.get(f"n:{kind}") or 0)
        if not n:
            continue
        what = texts.say(rt.settings, "en", one if n == 1 else many, n=n)
        refs = batch.get(f"r:{kind}")
        parts.append(texts.say(rt.settings, "en", WITH_REFS, what=what, refs=refs.replace(",", ", ")) if refs else what)
    since = local_time(rt.settings, float(batch.get("since") or time.time()), "en")
    return texts.say(rt.settings, "en", DIGEST, counts=", ".join(parts), since=since)


def _filled(rt, text: str, sealed: str) -> str:
    """A lone event's text with its sealed number (if it has one) unsealed, for sending only."""
    if NUMBER_SLOT in text:
        e164 = privacy.unseal(rt.settings.secret, sealed) or "?"
        text = text.replace(NUMBER_SLOT, e164.removeprefix("whatsapp:"))
    return text


def rescue(rt, now: float | None = None) -> bool:
    """Enqueue a flush when counted events wait and no flush is due (the watchdog calls this); True if it did.

    A killed worker or a lost scheduled job leaves `due` unset or long past;
    at most one rescue per GRACE_S, so a Twilio outage is not a job storm.
    """
    now = time.time() if now is None else now
    pipe = rt.r.pipeline(transaction=False)
    pipe.exists(store.digest_key("pending"), store.digest_key("inflight_id"))
    pipe.get(store.digest_key("due"))
    waiting, due = pipe.execute()
    if not waiting or (due and float(due) > now - GRACE_S):
        return False
    if not rt.r.set(store.digest_key("rescue"), f"{now:.0f}", nx=True, ex=GRACE_S):
        return False
    log.warning("coordinator digest: a flush was lost; sending the waiting batch now")
    _schedule(rt, now, now)
    return True
