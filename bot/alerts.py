"""Community alerts: subscribers by ZIP, and the broadcast of a verified incident to them.

Observers get the precise place at once; the public gets a short, coarse alert
(area, never a street) and only after an observer verified the incident. A
broadcast runs on the low-priority `broadcast` queue, paced per sending number
(HOTLINE_SEND_RATE) with a Redis rate limiter, in chunks, so it never stands
in front of a dispatch text.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from rq import Retry

from . import i18n, incidents, outbox, privacy, runtime, sending, store
from .actions import ActionCall, action, read
from .channels import registry as channels
from .channels.twilio_errors import WHATSAPP_UNDELIVERABLE
from .errors import NoSuchIncident, PermanentSend, RetryableSend, SendingPaused
from .geo import areas
from .i18n import N_

log = logging.getLogger(__name__)

ALERT = N_(
    "Hotline verified alert: immigration enforcement ({kind}) confirmed by an observer near {area}. "
    "Know your rights: you may stay silent. Reply ALERTS OFF to stop alerts."
)

CHUNK = 200
"""Subscribers handled per broadcast job; the rest goes to a follow-on job on the same queue."""


@action("alerts.subscribe", reads=(read("zip", "text", required=True),), returns=("ok", "zip"))
def subscribe(rt, call: ActionCall) -> dict:
    """Sign a contact up for alerts in a ZIP code (the `alerts.subscribe` action)."""
    zip_code = str(call.answers.get("zip") or "").strip()[:5]
    if len(zip_code) != 5 or not zip_code.isdigit():
        return {"ok": False}
    add_subscriber(rt.r, rt.settings, call.contact_id, call.e164, zip_code, call.language or "en", call.now)
    return {"ok": True, "zip": zip_code}


def add_subscriber(r, settings, contact_id: str, e164: str, zip_code: str, language: str, now: float) -> None:
    """Store one subscriber (number sealed) under their ZIP, moving them if they had another."""
    old = r.hget(store.subscriber_key(contact_id), "zip")
    pipe = r.pipeline(transaction=True)
    if old and old != zip_code:
        pipe.srem(store.subscribers_key(old), contact_id)
    pipe.hset(
        store.subscriber_key(contact_id),
        mapping={
            "phone": privacy.seal(settings.secret, e164),
            "zip": zip_code,
            "language": language,
            "since": f"{now:.0f}",
        },
    )
    pipe.hdel(store.subscriber_key(contact_id), "flag", "flagged_at")  # they wrote again: the window is open
    pipe.sadd(store.subscribers_key(zip_code), contact_id)
    pipe.execute()


@action("alerts.unsubscribe", returns=("ok",))
def unsubscribe(rt, call: ActionCall) -> dict:
    """Stop alerts for a contact (the `alerts.unsubscribe` action)."""
    return {"ok": remove_subscriber(rt.r, call.contact_id)}


def remove_subscriber(r, contact_id: str) -> bool:
    """Forget a subscriber entirely; True if there was one."""
    zip_code = r.hget(store.subscriber_key(contact_id), "zip")
    pipe = r.pipeline(transaction=True)
    if zip_code:
        pipe.srem(store.subscribers_key(zip_code), contact_id)
    pipe.delete(store.subscriber_key(contact_id))
    pipe.execute()
    return bool(zip_code)


def enqueue_broadcast(rt, incident_id: str, now: float) -> None:
    """Queue the public alert for a verified incident (once) on the `broadcast` queue."""
    rt.queue("broadcast").enqueue(broadcast, incident_id, job_timeout=3600, result_ttl=3600)


# ---- the broadcast -------------------------------------------------------------------
ALERT_RADIUS_KM = 3.0
"""ZIPs whose centre lies this close to a verified incident get its alert (plus the ZIP it is in)."""

CHUNK_TIMEOUT_S = 3600
"""RQ timeout of one chunk: 200 texts at a slow 1/s sending rate fit with room to spare."""

CHUNK_RETRY = Retry(max=3, interval=[5, 30, 120])
"""A chunk that failed or whose worker died runs again; its send records skip who already got it."""

ALERT_VALIDITY_S = 3600
"""An alert Twilio could not hand to the carrier within an hour is dropped (30036): agents seen
an hour ago are most likely gone, and a stale alert teaches people to ignore the next one."""

CONCURRENCY = 8
"""Sends in flight at once in one broadcast chunk: hides API latency (~50-200 ms) within the rate limit."""


def area_of(settings, lat: float, lon: float) -> tuple[list[str], str]:
    """Return the ZIPs to alert for a point and its coarse name ("Bell 90201"), never a street."""
    return areas.area_of(settings.bounds, lat, lon, ALERT_RADIUS_KM)


def alert_kind(settings, lang: str, kind: str) -> str:
    """An incident's kind as the alert names it, in lang (also a WhatsApp template's `kind` variable)."""
    return i18n.gettext(settings.locales_dir, lang, incidents.KIND_NAMES.get(kind, incidents.KIND_NAMES["other"]))


def alert_text(settings, lang: str, area: str, kind: str) -> str:
    """The public alert one subscriber gets, in their language."""
    return i18n.gettext(settings.locales_dir, lang, ALERT, area=area, kind=alert_kind(settings, lang, kind))


WARN_JOB = "bot.dispatch.status.warn_alerts_undelivered"
"""The coordinators' warning about undeliverable alerts: a job in `dispatch`, a layer above (named by path)."""


def record_failed(rt, broadcast_id: str, contact_id: str, code: int | None, *, was_sent: bool) -> bool:
    """Count one alert that reached nobody on its broadcast; flag a WhatsApp subscriber it cannot reach.

    `was_sent`: Twilio had accepted it (the failure came by status callback), so
    it leaves the `sent` count. A WhatsApp window or template error (63016,
    63027, 63028) flags the subscriber (`flag` on their record, shown by
    the incident's alert stats) and, once per broadcast, queues a warning to
    coordinators: every later alert to a quiet WhatsApp subscriber would fail
    the same way until a template is configured. True if it queued the warning.
    """
    r = rt.r
    key = store.broadcast_key(broadcast_id)
    pipe = r.pipeline(transaction=False)
    pipe.hincrby(key, "failed", 1)
    if was_sent:
        pipe.hincrby(key, "sent", -1)
    undeliverable = code in WHATSAPP_UNDELIVERABLE
    if undeliverable:
        pipe.hincrby(key, "failed_whatsapp", 1)
        if r.exists(store.subscriber_key(contact_id)):
            flag = {"flag": f"whatsapp_{code}", "flagged_at": f"{time.time():.0f}"}
            pipe.hset(store.subscriber_key(contact_id), mapping=flag)
    pipe.execute()
    if not undeliverable or not r.set(store.warned_once_key(f"alerts:{broadcast_id}"), str(code), nx=True, ex=86400):
        return False
    rt.queue("dispatch").enqueue(WARN_JOB, broadcast_id, code, job_timeout=60, result_ttl=600, failure_ttl=12 * 3600)
    return True


def flagged(r, contact_id: str) -> str | None:
    """Why alerts cannot reach this subscriber (`whatsapp_63016`, ...), or None."""
    return r.hget(store.subscriber_key(contact_id), "flag")


def preview(rt, incident: dict) -> dict:
    """What a broadcast of this (placed) incident would send, where, and to how many subscribers."""
    zips, area = area_of(rt.settings, incident["lat"], incident["lon"])
    pipe = rt.r.pipeline(transaction=False)
    for z in zips:
        pipe.scard(store.subscribers_key(z))
    total = sum(pipe.execute()) if zips else 0
    sent_before = rt.r.hexists(store.broadcast_key(incident["id"]), "started_at")
    return {
        "area": area,
        "zips": zips,
        "subscribers": total,
        "text": alert_text(rt.settings, "en", area, incident.get("kind", "other")),
        "already_sent": bool(sent_before),
    }


def broadcast(incident_id: str) -> int:
    """RQ job. Start the public alert of a verified incident; return how many subscribers it will reach."""
    rt = runtime.get()
    r = rt.r
    try:
        incident = incidents.get(r, incident_id)
    except NoSuchIncident:
        return 0
    if incident["status"] != "verified" or incident.get("lat") is None:
        log.info("broadcast skipped: incident %s is %s", incident_id, incident["status"])
        return 0
    key = store.broadcast_key(incident_id)
    if not r.hsetnx(key, "started_at", f"{time.time():.3f}"):
        return 0  # verified twice: one alert is enough
    zips, area = area_of(rt.settings, incident["lat"], incident["lon"])
    r.hset(
        key,
        mapping={
            "incident_id": incident_id,
            "zips": ",".join(zips),
            "area": area,
            "kind": incident.get("kind", "other"),
            "sent": 0,
        },
    )
    total = sum(r.scard(store.subscribers_key(z)) for z in zips)
    incidents.add_event(
        r, incident_id, "alert_broadcast", time.time(), zips=",".join(zips), area=area, subscribers=total
    )
    rt.queue("broadcast").enqueue(
        broadcast_chunk, incident_id, 0, 0, job_timeout=CHUNK_TIMEOUT_S, result_ttl=600, retry=CHUNK_RETRY
    )
    return total


def broadcast_chunk(broadcast_id: str, zip_index: int, cursor: int) -> int:
    """RQ job. Text the next chunk of one broadcast's subscribers, then queue the rest; return texts sent."""
    rt = runtime.get()
    r, _s = rt.r, rt.settings
    meta = r.hgetall(store.broadcast_key(broadcast_id))
    zips = [z for z in meta.get("zips", "").split(",") if z]
    if sending.paused(r):
        return _later(rt, broadcast_id, zip_index, cursor)
    if zip_index >= len(zips):
        r.hset(store.broadcast_key(broadcast_id), "finished_at", f"{time.time():.3f}")
        return 0
    cursor, members = r.sscan(store.subscribers_key(zips[zip_index]), cursor, count=CHUNK)
    pipe = r.pipeline(transaction=False)
    for contact_id in members:
        pipe.hgetall(store.subscriber_key(contact_id))
    subs = [(cid, sub) for cid, sub in zip(members, pipe.execute()) if sub]
    start_cursor = cursor
    sent = 0
    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            for ok in pool.map(lambda item: _alert_one(rt, broadcast_id, meta, *item), subs):
                sent += ok
    except SendingPaused:  # our account broke mid-chunk: run this chunk again later (records skip the sent)
        r.hincrby(store.broadcast_key(broadcast_id), "sent", sent)
        return _later(rt, broadcast_id, zip_index, start_cursor)
    r.hincrby(store.broadcast_key(broadcast_id), "sent", sent)
    next_zip, next_cursor = (zip_index, cursor) if cursor else (zip_index + 1, 0)
    rt.queue("broadcast").enqueue(
        broadcast_chunk,
        broadcast_id,
        next_zip,
        next_cursor,
        job_timeout=CHUNK_TIMEOUT_S,
        result_ttl=600,
        retry=CHUNK_RETRY,
    )
    return sent


def _later(rt, broadcast_id: str, zip_index: int, cursor: int) -> int:
    """Queue this chunk again after the pause's first probe: the queue is kept, nothing is dropped."""
    rt.queue("broadcast").enqueue_in(
        timedelta(seconds=sending.PROBE_FIRST_S),
        broadcast_chunk,
        broadcast_id,
        zip_index,
        cursor,
        job_timeout=CHUNK_TIMEOUT_S,
        result_ttl=600,
        retry=CHUNK_RETRY,
    )
    return 0


def _alert_one(rt, broadcast_id: str, meta: dict, contact_id: str, sub: dict) -> int:
    """Text one subscriber the alert at the paced rate; 1 if it went out."""
    s = rt.settings
    e164 = privacy.unseal(s.secret, sub.get("phone", ""))
    if not e164:
        return 0
    body = alert_text(s, sub.get("language") or "en", meta.get("area", ""), meta.get("kind", ""))
    # Twilio's per-sender throughput counts segments (a 2-segment alert uses two of a long
    # code's 1 per second), so an alert takes as many slots of HOTLINE_SEND_RATE as it has.
    parts = channels.for_address(e164).segments(s, body)
    while True:  # pace to HOTLINE_SEND_RATE per sending number, shared by every worker through Redis
        wait = outbox.take_send_slot(rt.r, outbox.sender_of(s), s.send_rate / parts, time.time())
        if wait <= 0:
            break
        time.sleep(wait)  # the limiter's answer: this thread waits its turn, dispatch never does
    language = sub.get("language") or "en"
    area, kind = meta.get("area", ""), meta.get("kind", "")
    try:
        record = outbox.send_once(
            rt,
            store.broadcast_sends_key(broadcast_id),
            contact_id,
            e164,
            body,
            purpose="alert",
            now=time.time(),
            ref={"broadcast_id": broadcast_id},
            validity_s=ALERT_VALIDITY_S,
            language=language,
            variables={"area": area, "kind": alert_kind(s, language, kind)},
        )
    except PermanentSend as exc:  # a dead number, or WhatsApp without a template: recorded as failed
        record_failed(rt, broadcast_id, contact_id, exc.code, was_sent=False)
        return 0
    except SendingPaused:
        raise  # not this subscriber's doing: the chunk waits for the pause to lift
    except RetryableSend:  # left claimed/unclaimed; a re-run of the chunk decides it
        return 0
    return 1 if record["state"] == outbox.SENT else 0
