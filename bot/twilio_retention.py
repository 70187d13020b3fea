"""What stays at Twilio: delete each message (and its media) once the hotline is done with it.

Twilio keeps every message body and photo until someone deletes them, so a
request to Twilio would find reports the hotline itself has long purged. With
`HOTLINE_TWILIO_RETENTION=delete` (the default) an inbound message is deleted
after it was processed, and an outbound one once its status settles
(delivered, undelivered, failed, canceled, read), by an RQ job with Retry:
Twilio refuses to delete a message that is not complete yet (20009), and an
outage must not lose the deletion.

Calls to the voice line are kept by Twilio too (who called, when, which
dispatchers' phones rang): `schedule_call` deletes the call and the legs it
dialed once its status callback says it is over, with the same retries.

Photos go with their message: the hotline keeps their Twilio URLs only, so once
deleted they are gone from the incident too — unless the network keeps photos
(HOTLINE_KEEP_PHOTOS), when `bot/photos.py` fetches and seals them first.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import Retry

from . import runtime, sending
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


def schedule(rt, sid: str) -> bool:
    """Queue the deletion of one message at Twilio (when the network deletes); True if queued."""
    if rt.settings.twilio_retention != "delete" or not sid.startswith(("SM", "MM")):
        return False
    return _enqueue(rt, delete_message, sid, "delete a message at Twilio")


def _enqueue(rt, job, sid: str, description: str) -> bool:
    rt.queue("default").enqueue_in(
        timedelta(seconds=DELETE_AFTER_S),
        job,
        sid,
        retry=DELETE_RETRY,
        job_timeout=60,
        result_ttl=0,
        failure_ttl=FAILED_TTL_S,
        description=description,
    )
    return True


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


def schedule_call(rt, sid: str) -> bool:
    """Queue deleting a finished call and its dialed legs at Twilio (HOTLINE_TWILIO_RETENTION); True if queued."""
    if rt.settings.twilio_retention != "delete" or not sid.startswith("CA"):
        return False
    return _enqueue(rt, delete_call, sid, "delete a call at Twilio")


def delete_call(sid: str) -> int:
    """RQ job. Delete a call and the dispatchers' legs it dialed at Twilio; RetryableSend makes RQ try again."""
    rt = runtime.get()
    _not_while_throttled(rt)
    return twilio_channel.delete_call(rt.twilio, sid)
