"""What stays at Twilio: delete each message (and its media) once the hotline is done with it.

Twilio keeps every message body and photo until someone deletes them, so a
request to Twilio would find reports the hotline itself has long purged. With
`HOTLINE_TWILIO_RETENTION=delete` (the default) an inbound message is deleted
after it was processed, and an outbound one once its status settles
(delivered, undelivered, failed, canceled, read), by an RQ job with Retry:
Twilio refuses to delete a message that is not complete yet (20009), and an
outage must not lose the deletion.

Calls to the voice line are kept by Twilio too (who called, when, which
dispatchers' phones rang): `schedule` deletes the call and the legs it
dialed once its status callback says it is over, with the same retries.

Photos go with their message: the hotline keeps their Twilio URLs only, so once
deleted they are gone from the incident too — unless the network keeps photos
(HOTLINE_KEEP_PHOTOS), when `bot/photos.py` fetches and seals them first.

How a deletion waits: not as an RQ scheduled job made on the webhook. RQ's
`enqueue_in` builds and pickles a job and costs two round trips, ~0.4 ms of a
web process's CPU per message, and a flood is thousands of messages a minute.
Instead the SID goes into one sorted set (`store.twilio_deletions_key`, scored
by when it is due) inside a pipeline the webhook sends anyway (the message's
claim, `bot/router.py`), and the worker's beat hands what is due over to RQ
jobs with `DELETE_RETRY` (`hand_over`), many in one transaction. The deletion
itself, its retries and its failures are still RQ's.
"""

from __future__ import annotations

import logging
import time
import uuid

from rq import Queue, Retry

from . import lua, runtime, sending, store
from .channels import twilio as twilio_channel
from .errors import RetryableSend

log = logging.getLogger(__name__)

DELETE_AFTER_S = 120
"""Wait this long before the first DELETE: Twilio answers 20009 while a message is still in flight."""

DELETE_RETRY = Retry(max=6, interval=[120, 600, 1800, 3600, 4 * 3600, 12 * 3600])
"""20009 can last minutes (rarely days, Twilio says up to 14): back off up to half a day."""

SETTLED = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})
"""Outbound statuses after which nothing more is learned from the message."""

FAILED_TTL_S = 7 * 24 * 3600
"""A deletion that failed every retry stays visible to the operator for a week."""


HANDOVER_BATCH = 500
"""Due deletions handed to RQ per beat (one transaction); more wait for the next beat, a second later."""

HANDOVER_LEASE_MS = 5000
"""One worker at a time hands over (two would enqueue the same deletion twice)."""

_JOBS = {"SM": "message", "MM": "message", "CA": "call"}
"""What a SID names, by its prefix; anything else (a web chat's message id) is not Twilio's to delete."""


def _kind(sid: str) -> str | None:
    return _JOBS.get(sid[:2])


PHOTO_MARGIN_S = 3600
"""Beyond the conversation's own life, how long a message with a photo waits for the photo to be kept
(HOTLINE_KEEP_PHOTOS): longer than `photos.KEEP_RETRY`'s every retry (tests/test_media_keep.py)."""


def queue_schedule(pipe, settings, sid: str, now: float, media: bool = False) -> bool:
    """Queue, on `pipe`, the deletion of a message or call at Twilio DELETE_AFTER_S from `now` (when the
    network deletes); True if queued. A SID queued twice (a redelivery) keeps its first due time.

    With HOTLINE_KEEP_PHOTOS, a message with `media` waits for its report to be submitted and its photos
    kept (the media go with the message): the session's life and PHOTO_MARGIN_S, or until the keeping is
    done (`sooner`), whichever comes first. Without that, a fetch retried past two minutes found nothing.
    """
    if settings.twilio_retention != "delete" or _kind(sid) is None:
        return False
    wait = settings.session_ttl_s + PHOTO_MARGIN_S if media and settings.keep_photos else DELETE_AFTER_S
    pipe.zadd(store.twilio_deletions_key(), {sid: now + wait}, nx=True)
    return True


def sooner(rt, sids, now: float) -> None:
    """Delete these messages DELETE_AFTER_S from `now` if they were due later (their photos are kept)."""
    sids = [sid for sid in sids if _kind(sid) == "message"]
    if sids and rt.settings.twilio_retention == "delete":
        rt.r.zadd(store.twilio_deletions_key(), dict.fromkeys(sids, now + DELETE_AFTER_S), lt=True)


def schedule(rt, sid: str, now: float | None = None) -> bool:
    """Queue the deletion of one message or call at Twilio (when the network deletes); True if queued."""
    pipe = rt.r.pipeline(transaction=False)
    queued = queue_schedule(pipe, rt.settings, sid, time.time() if now is None else now)
    pipe.execute()
    return queued


def hand_over(rt, now: float, batch: int = HANDOVER_BATCH) -> int:
    """Turn the deletions due by `now` into RQ jobs (with DELETE_RETRY); return how many (the worker's beat).

    The jobs are enqueued and their SIDs taken out of the waiting set in one
    transaction, so a crash leaves each deletion either waiting or queued,
    never lost; a lease keeps two workers from queueing one twice.
    """
    token = uuid.uuid4().hex
    if not rt.r.set(store.twilio_handover_key(), token, nx=True, px=HANDOVER_LEASE_MS):
        return 0
    try:
        due = rt.r.zrangebyscore(store.twilio_deletions_key(), "-inf", now, start=0, num=batch)
        if not due:
            return 0
        queue = rt.queue("default")
        pipe = rt.r_raw.pipeline(transaction=True)
        jobs = [_job_data(sid) for sid in due]
        queue.enqueue_many([j for j in jobs if j is not None], pipeline=pipe)
        pipe.zrem(store.twilio_deletions_key(), *due)
        pipe.execute()
        return sum(j is not None for j in jobs)
    finally:
        lua.run(rt.r, "lease_release", [store.twilio_handover_key()], token=token)


def _job_data(sid: str):
    kind = _kind(sid)
    if kind is None:
        return None
    return Queue.prepare_data(
        delete_message if kind == "message" else delete_call,
        (sid,),
        retry=DELETE_RETRY,
        timeout=60,
        result_ttl=0,
        failure_ttl=FAILED_TTL_S,
        description=f"delete a {kind} at Twilio",
    )


def waiting(r) -> int:
    """Deletions not yet handed to RQ (due or not): /healthz shows operators them beside the queues."""
    return int(r.zcard(store.twilio_deletions_key()))


def _not_while_throttled(rt) -> None:
    """A deletion can wait: while Twilio is rate-limiting everyone (a throttle), leave it to RQ's next retry.

    Dispatch texts get the API first when Twilio comes back; a storm is not hammered by cleanup.
    """
    info = sending.paused(rt.r)
    if info and sending.kind_of(info) == sending.THROTTLE:
        raise RetryableSend("sending paused: Twilio is rate-limiting; deleting later")


def delete_message(sid: str) -> str:
    """RQ job. Delete a message and its media at Twilio; RetryableSend makes RQ try again later."""
    rt = runtime.get()
    _not_while_throttled(rt)
    return twilio_channel.delete_message(rt.twilio, sid)


def delete_call(sid: str) -> int:
    """RQ job. Delete a call and the dispatchers' legs it dialed at Twilio; RetryableSend makes RQ try again."""
    rt = runtime.get()
    _not_while_throttled(rt)
    return twilio_channel.delete_call(rt.twilio, sid)
