"""Photos a network chose to keep (HOTLINE_KEEP_PHOTOS): fetched from Twilio, sealed, kept with their incident.

By default a report's photo stays only at Twilio and is deleted there with its
message (`twilio_retention`), so the hotline never holds it. A network that
needs photos (SALUTE evidence for a lawyer) turns HOTLINE_KEEP_PHOTOS on; then
each photo of a report is, in an RQ job after the report reached its incident:

1. fetched from its MediaUrl with the account's credentials (`channels.twilio.fetch_media`:
   an image, at most HOTLINE_PHOTO_MAX_BYTES; anything else is refused and not kept);
2. sealed with the hotline's one sealing key (`privacy.seal_bytes`, Fernet) and
   stored with its content type in the incident's photo hash, so it goes when
   the incident is thinned by `retention.purge` (the same step that drops its
   other free-text details);
3. deleted at Twilio (the Media resource), whatever HOTLINE_TWILIO_RETENTION says
   about the message: once the hotline has a copy, Twilio's is only a liability.

A photo's id is a hash of its Twilio URL, so a report updated five times (each
update carries its photos again) or a retried job stores it once. Coordinators
see a kept photo on the console's incident page (`view`, audited).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time

from cryptography.fernet import InvalidToken
from rq import Retry

from . import audit, privacy, runtime, store, twilio_retention
from .channels import twilio as twilio_channel
from .errors import MediaRefused

log = logging.getLogger(__name__)

KEEP_RETRY = Retry(max=4, interval=[10, 30, 90, 300])
"""A fetch Twilio answered 5xx/429 (or a wrong token, until fixed) is tried again within minutes."""

JOB_TIMEOUT_S = 120
"""Ten photos of 5 MB at Twilio's pace, with room to spare."""

KEEP_HORIZON_S = sum(KEEP_RETRY.intervals) + (KEEP_RETRY.max + 1) * JOB_TIMEOUT_S
"""The latest a keep job's last attempt can end; the message (and its media) waits at Twilio at least this
long (`twilio_retention.PHOTO_MARGIN_S`)."""

_MESSAGE_OF_MEDIA = re.compile(r"/Messages/((?:MM|SM)[0-9a-fA-F]{32})/Media/")


def photo_id(url: str) -> str:
    """A photo's id: a hash of its Twilio URL (idempotent keeping; the URL itself is not stored here)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def enqueue_keep(rt, incident_id: str, urls) -> bool:
    """Queue keeping a report's photos for its incident (when the network keeps photos); True if queued."""
    urls = [str(u) for u in (urls or []) if u]
    if not rt.settings.keep_photos or not urls or not incident_id:
        return False
    rt.queue("default").enqueue(
        keep,
        incident_id,
        urls,
        retry=KEEP_RETRY,
        job_timeout=JOB_TIMEOUT_S,
        result_ttl=0,
        failure_ttl=12 * 3600,
        description="keep report photos",
    )
    return True


def keep(incident_id: str, urls: list[str]) -> int:
    """RQ job. Fetch, seal and store each photo not kept yet, then delete it at Twilio; return how many were stored."""
    rt = runtime.get()
    r, settings = rt.r, rt.settings
    key = store.incident_photos_key(incident_id)
    if not r.exists(store.incident_key(incident_id)):
        return 0  # purged meanwhile: nothing to keep it with
    stored = 0
    for url in urls:
        pid = photo_id(url)
        if r.hexists(key, pid) or r.hexists(key, f"{pid}:refused"):
            continue
        try:
            data, content_type = twilio_channel.fetch_media(settings, url, settings.photo_max_bytes)
        except MediaRefused as exc:
            log.info("photo of incident %s not kept: %s", incident_id, exc)
            r.hset(key, f"{pid}:refused", str(exc))
        else:
            pipe = r.pipeline(transaction=True)
            pipe.hset(
                key,
                mapping={
                    pid: privacy.seal_bytes(settings.secret, data).decode(),
                    f"{pid}:type": content_type,
                    f"{pid}:bytes": str(len(data)),
                },
            )
            pipe.rpush(store.incident_photo_order_key(incident_id), pid)
            pipe.execute()
            stored += 1
        try:
            twilio_channel.delete_media(rt.twilio, url)
        except MediaRefused:
            pass  # not a Twilio media URL: nothing to delete there
    # kept (or refused for good): the messages they came with need not wait any longer (`twilio_retention`)
    twilio_retention.sooner(rt, {m.group(1) for m in map(_MESSAGE_OF_MEDIA.search, urls) if m}, time.time())
    return stored


def listed(r, incident_id: str) -> list[dict]:
    """The incident's kept photos (id, content type, size), in arrival order; never their bytes."""
    key = store.incident_photos_key(incident_id)
    ids = r.lrange(store.incident_photo_order_key(incident_id), 0, -1)
    if not ids:
        return []
    pipe = r.pipeline(transaction=False)
    for pid in ids:
        pipe.hmget(key, f"{pid}:type", f"{pid}:bytes")
    return [
        {"id": pid, "content_type": ctype, "bytes": int(size or 0)}
        for pid, (ctype, size) in zip(ids, pipe.execute())
        if ctype
    ]


def view(r, settings, incident_id: str, pid: str, by: str, now: float) -> tuple[bytes, str] | None:
    """One kept photo's bytes and content type for a coordinator (audited), or None if there is none."""
    sealed, content_type = r.hmget(store.incident_photos_key(incident_id), pid, f"{pid}:type")
    if not sealed or not content_type:
        return None
    try:
        data = privacy.unseal_bytes(settings.secret, sealed.encode())
    except InvalidToken:  # sealed under a rotated secret: the photo is simply unreadable
        return None
    audit.record(r, "photo_viewed", by, now, incident=incident_id, photo=pid)
    return data, content_type
