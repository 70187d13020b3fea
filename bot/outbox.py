"""Sending a text the hotline starts itself (dispatch, escalation, reminder, alert).

Webhook replies go back as TwiML; everything else leaves through `send`, which
honours opt-outs for every message type, treats Twilio's 21610 as an opt-out
(courier's rule), and remembers what each outbound sid was for so a status
callback can find it.
"""
from __future__ import annotations

import logging

from . import store
from .channels import twilio as twilio_channel
from .errors import PermanentSend
from .privacy import contact_id as make_contact_id

log = logging.getLogger(__name__)

OUTBOUND_TTL_S = 3 * 24 * 3600
"""Keep sid → purpose for three days: Twilio's late status callbacks arrive within hours."""


def is_opted_out(r, contact_id: str) -> bool:
    """Tell whether a contact texted STOP."""
    return bool(r.sismember(store.optout_key(), contact_id))


def send(rt, e164: str, body: str, *, purpose: str, ref: dict | None = None) -> str | None:
    """Send one text unless its recipient opted out; return Twilio's sid or None if suppressed.

    Raises RetryableSend for a failure worth retrying (the caller's RQ Retry decides)
    and PermanentSend for one that is not; 21610 also records the opt-out.
    """
    cid = make_contact_id(rt.settings.secret, e164)
    if is_opted_out(rt.r, cid):
        log.info("suppressed %s text to an opted-out contact", purpose)
        return None
    try:
        sid = twilio_channel.send(rt.twilio, rt.settings, e164, body,
                                  status_callback=twilio_channel.status_callback_url(rt.settings))
    except PermanentSend as exc:
        if exc.code == twilio_channel.OPTED_OUT:
            rt.r.sadd(store.optout_key(), cid)
        raise
    fields = {"purpose": purpose, "contact_id": cid, **{k: str(v) for k, v in (ref or {}).items()}}
    pipe = rt.r.pipeline(transaction=False)
    pipe.hset(store.outbound_key(sid), mapping=fields)
    pipe.expire(store.outbound_key(sid), OUTBOUND_TTL_S)
    pipe.execute()
    return sid
