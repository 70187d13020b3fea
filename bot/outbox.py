"""Sending a text the hotline starts itself (dispatch, escalation, reminder, alert).

Webhook replies go back in the webhook's answer; everything else leaves through
`send`, which honours opt-outs for every message type, hands the text to the
channel its address belongs to (`channels.registry`), treats Twilio's 21610 as
an opt-out (courier's rule), and remembers what each outbound sid was for so a
status callback can find it.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

from . import contacts, lua, sending, store, whatsapp_window
from .channels import registry as channels
from .channels.twilio_errors import CONTENT, OUTSIDE_WINDOW, classify
from .errors import PermanentSend, Reconciling, RetryableSend, SendingPaused
from .privacy import contact_id as make_contact_id

log = logging.getLogger(__name__)

OUTBOUND_TTL_S = 3 * 24 * 3600
"""Keep sid → purpose for three days: Twilio's late status callbacks arrive within hours."""


def send(
    rt,
    address: str,
    body: str,
    *,
    purpose: str,
    ref: dict | None = None,
    validity_s: int | None = None,
    force: bool = False,
    language: str | None = None,
    variables: dict | None = None,
) -> str | None:
    """Send one text on its address's channel unless its recipient opted out; return the sid or None if suppressed.

    Raises RetryableSend for a failure worth retrying (the caller's RQ Retry decides),
    PermanentSend for one that is not (21610 also records the opt-out), and
    SendingPaused while the hotline's own account or sender is broken or Twilio is
    rate-limiting everyone (429/20429, 503: `sending.is_throttle`) — without
    calling Twilio at all once a pause is on (`force` tries anyway: the page that
    tells coordinators about the pause).

    A WhatsApp contact who has not written for 24 hours gets the approved template
    for this `purpose` in their `language` (filled from `variables` and the body)
    or, where allowed, an SMS; with neither the send is refused as 63016 before
    Twilio is called (`whatsapp_window`).
    """
    cid = make_contact_id(rt.settings.secret, address)
    if contacts.is_opted_out(rt.r, cid):
        log.info("suppressed %s text to an opted-out contact", purpose)
        return None
    if not force:
        info = sending.paused(rt.r)
        if info:
            raise SendingPaused("sending paused", code=int(info.get("code") or 0) or None, kind=sending.kind_of(info))
    channel = channels.for_address(address)
    template, asked = None, address
    if channel.session_window and not whatsapp_window.is_open(rt.r, cid, time.time()):
        address, channel, template = _outside_window(rt, cid, address, channel, body, purpose, language, variables)
    try:
        sid = channel.send(rt, address, body, validity_s=validity_s, template=template)
    except SendingPaused as exc:
        on_sender_error(rt, exc.code)
        raise
    except RetryableSend as exc:
        if not sending.is_throttle(exc.code, exc.http_status):
            exc.via = VIA_TEMPLATE if template else VIA_SMS if address != asked else ""
            raise
        on_sender_error(rt, exc.code, kind=sending.THROTTLE)
        raise SendingPaused(str(exc), code=exc.code, http_status=exc.http_status, kind=sending.THROTTLE) from None
    except PermanentSend as exc:
        if channel.is_opt_out(exc):  # Twilio's 21610
            rt.r.sadd(store.optout_key(), cid)
        raise
    remember(rt, sid, purpose, cid, {**(ref or {}), "via": "template"} if template else ref)
    return sid


VIA_TEMPLATE, VIA_SMS = "template", "sms"
"""How an attempt went when not as the plain text to its WhatsApp address: an approved template (outside the
24-hour window), or the SMS fallback. Kept in an uncertain send record (`via`), never the number itself."""


def _outside_window(rt, cid: str, address: str, channel, body: str, purpose: str, language, variables):
    """(address, channel, template) for a WhatsApp text outside the 24-hour window; PermanentSend if none fits."""
    lang = language or rt.r.hget(store.contact_key(cid), "lang")
    choice = whatsapp_window.choose(rt.settings, purpose, lang)
    if choice.template is not None:
        filled = choice.template.fill({**(variables or {}), "body": body})
        return address, channel, (choice.template.content_sid, filled)
    sms = channel.sms_address(address) if choice.sms else None
    if sms:
        return sms, channels.for_address(sms), None
    log.info("%s text not sent: outside the WhatsApp window, no template and no SMS fallback", purpose)
    raise PermanentSend(
        f"outside the WhatsApp 24-hour window: no {purpose} template", code=OUTSIDE_WINDOW, kind=CONTENT
    )


def remember(rt, sid: str, purpose: str, contact_id: str, ref: dict | None = None) -> None:
    """Keep what an outbound sid was for, so its status callbacks find it (and expire with it)."""
    fields = {"purpose": purpose, "contact_id": contact_id, **{k: str(v) for k, v in (ref or {}).items()}}
    pipe = rt.r.pipeline(transaction=False)
    pipe.hset(store.outbound_key(sid), mapping=fields)
    pipe.expire(store.outbound_key(sid), OUTBOUND_TTL_S)
    pipe.execute()


def on_sender_error(rt, code: int | None, kind: str = sending.SENDER) -> None:
    """Pause sending for an error of our own account/sender (or a 429 storm: `throttle`).

    The first one schedules the probe and the page; a sender error arriving during
    a throttle pages too (its cause is ours). The jobs are named by dotted path:
    they live in `dispatch`, a layer above this one.
    """
    reason = classify(code, 429 if kind == sending.THROTTLE else 401 if code is None else None).reason
    before = sending.kind_of(sending.paused(rt.r))
    started = sending.pause(rt.r, code, reason, time.time(), kind=kind)
    if not started and not (kind == sending.SENDER and before == sending.THROTTLE):
        return
    queue = rt.queue("dispatch")
    if started:
        delay = sending.next_probe_delay(rt.r, kind)
        queue.enqueue_in(timedelta(seconds=delay), "bot.dispatch.resume.probe", delay, job_timeout=60, result_ttl=600)
    if kind == sending.SENDER:  # a throttle pages only if it lasts (resume.probe): a 429 blip is no news
        queue.enqueue("bot.dispatch.resume.page_coordinators", code, kind, job_timeout=60, result_ttl=600)


# ---- exactly-once sends for dispatch and broadcasts ---------------------------------
CLAIMED, RELEASED, UNCERTAIN, SENT, SUPPRESSED, FAILED = (
    "claimed",
    "released",
    "uncertain",
    "sent",
    "suppressed",
    "failed",
)
"""States of a per-recipient send record (a JSON value in a hash, one field per recipient)."""


def _record(state: str, now: float, **extra) -> str:
    return json.dumps({"state": state, "at": round(now, 3), **extra}, sort_keys=True)


def read_record(raw: str | None) -> dict | None:
    """Decode a send record (None when there is none)."""
    return json.loads(raw) if raw else None


def claim_send(
    r, records_key: str, recipient: str, now: float, takeover: str | None = None, **extra
) -> tuple[bool, dict, str]:
    """Claim the right to text a recipient once; return (won, the record now stored, its raw form)."""
    won, stored = lua.run(
        r,
        "send_claim",
        [records_key],
        recipient=recipient,
        record=_record(CLAIMED, now, **extra),
        takeover=takeover or "",
    )
    return bool(won), read_record(stored), stored


def send_once(
    rt,
    records_key: str,
    recipient: str,
    address: str,
    body: str,
    *,
    purpose: str,
    now: float,
    ref: dict | None = None,
    extra: dict | None = None,
    validity_s: int | None = None,
    language: str | None = None,
    variables: dict | None = None,
    force: bool = False,
) -> dict:
    """Text a recipient at most once per records hash; return the send record (`new` if this call settled it).

    The record is written *before* the API call. A retry that finds a record
    already `sent`/`suppressed`/`failed` does nothing. An `uncertain` one (Twilio
    answered 5xx or the connection broke: it may have sent) or a `claimed` one
    older than an HTTP timeout (the sender died mid-call) makes it ask Twilio's
    message list whether the message went out. When Twilio never answered (a
    timeout, a reset, a dead sender) it keeps asking, raising Reconciling, until
    `reconcile_window` has passed since the attempt gave up: Twilio can accept a
    request after the client's timeout, so one empty look is no proof. Only then
    is it sent again (after a 5xx answer, at once: Twilio had finished with it). `released` (429) is known not to have
    sent, so the retry just sends.
    """
    extra = extra or {}
    won, record, stale = claim_send(rt.r, records_key, recipient, now, **extra)
    if not won:
        if record["state"] not in (CLAIMED, RELEASED, UNCERTAIN):
            return record
        timeout = rt.settings.twilio_timeout_s
        if record["state"] == CLAIMED and time.time() - record["at"] < timeout + 1:
            return record  # another attempt is inside its HTTP call right now
        if record["state"] != RELEASED:
            gave_up = record["at"] + (timeout if record["state"] == CLAIMED else 0)
            sid = _find_attempt(rt, address, body, record.get("via", ""), since=gave_up - timeout)
            if sid:
                done = _record(SENT, now, sid=sid, **extra)
                lua.run(rt.r, "send_claim", [records_key], recipient=recipient, record=done, takeover=stale)
                remember(rt, sid, purpose, make_contact_id(rt.settings.secret, address), ref)
                return {**read_record(done), "new": True}
            if not record.get("answered") and time.time() < gave_up + reconcile_window(rt.settings):
                raise Reconciling("an earlier attempt may still show up at Twilio: asking again later")
        won, record, _ = claim_send(rt.r, records_key, recipient, now, takeover=stale, **extra)
        if not won:  # another worker took the stale claim over a moment ago
            return record
    try:
        sid = send(
            rt,
            address,
            body,
            purpose=purpose,
            ref=ref,
            validity_s=validity_s,
            language=language,
            variables=variables,
            force=force,
        )
    except RetryableSend as exc:
        if sending.is_throttle(exc.code, exc.http_status) or isinstance(exc, SendingPaused):
            # Certainly not sent (rate-limited, unavailable, refused as ours, or never tried): the retry just sends.
            rt.r.hset(records_key, recipient, _record(RELEASED, now, **extra))
        else:  # a 5xx or a broken connection may have sent: retries ask Twilio first (`at`: when we gave up)
            # A 5xx is Twilio's answer: whatever it created is listed by now. No answer (a timeout, a
            # reset) means the request may still be at Twilio: retries keep looking for a while.
            answered = {"answered": 1} if exc.http_status else {}
            via = {"via": exc.via} if exc.via else {}
            rt.r.hset(records_key, recipient, _record(UNCERTAIN, time.time(), **answered, **via, **extra))
        raise
    except PermanentSend as exc:
        done = _record(FAILED, now, code=exc.code or 0, kind=exc.kind, **extra)
        rt.r.hset(records_key, recipient, done)
        raise
    done = _record(SENT if sid else SUPPRESSED, now, sid=sid or "", **extra)
    rt.r.hset(records_key, recipient, done)
    return {**read_record(done), "new": True}


def _find_attempt(rt, address: str, body: str, via: str, since: float) -> str | None:
    """The sid of the message an uncertain attempt created at Twilio, or None.

    A plain text is found by its body. The SMS fallback went to the number without
    its `whatsapp:` prefix. A template's body is the template's text as Twilio
    renders it, which the hotline does not hold: its message is the one to that
    address, created since the attempt, that the hotline has no record of (every
    sid it learns is remembered, `remember`); two attempts uncertain at once to one
    contact could take each other's, never a text nobody sent.
    """
    channel = channels.for_address(address)
    if via == VIA_SMS:
        sms = channel.sms_address(address)
        return channels.for_address(sms).find_sent(rt, sms, body, since=since) if sms else None
    if via == VIA_TEMPLATE:
        for sid in channel.find_recent(rt, address, since=since):
            if not rt.r.exists(store.outbound_key(sid)):
                return sid
        return None
    return channel.find_sent(rt, address, body, since=since)


RECONCILE_MIN_S = 30
"""However short the HTTP timeout, an uncertain send is looked up for at least this long before a resend."""


def reconcile_window(settings) -> float:
    """How long after an attempt gave up Twilio's message list is asked before sending again.

    Six HTTP timeouts (30 s at the default 5 s): a request Twilio was still holding
    when the client gave up is created well within that, and a dispatch text resent
    later than this is one the slot had long moved on from anyway.
    """
    return max(RECONCILE_MIN_S, 6 * float(settings.twilio_timeout_s))


def take_send_slot(r, sender: str, rate_per_s: float, now: float, *, priority: bool = False) -> float:
    """Take one send from a number's rate budget; return seconds to wait first (0 = go now).

    Priority sends (dispatch, escalation) never wait; they push bulk sends back
    (GCRA in one Lua call, `bot/lua/send_rate.lua`: no lock across worker processes).
    """
    wait = lua.run(
        r, "send_rate", [store.send_rate_key(sender)], now=repr(now), interval=repr(1.0 / rate_per_s), force=priority
    )
    return float(wait)


def sender_of(settings) -> str:
    """The number (or messaging service) a text leaves from, for per-sender rate limits."""
    return settings.twilio_messaging_service_sid or settings.twilio_number or "default"
