"""HTTP routes Twilio calls: inbound messages and status callbacks.

Thin views (verify → parse → route → render); every decision about a message
is the router's, every Twilio wire detail is `channels/twilio`'s.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, request

from . import router
from .channels import registry
from .channels import twilio as twilio_channel

bp = Blueprint("webhook", __name__)


def _runtime():
    return current_app.extensions["hotline"]


def _verify(rt) -> None:
    """Check X-Twilio-Signature against PUBLIC_URL + path (+ query), as Twilio signed it."""
    verify(rt.settings.twilio_auth_token, rt.settings.public_url)


def verify(auth_token: str | None, public_url: str | None) -> None:
    """Raise Forbidden unless this Flask request carries Twilio's signature (the voice routes use it too)."""
    url = twilio_channel.signed_url(public_url, request.path, request.query_string.decode(), request.url)
    twilio_channel.verify_signature(auth_token, url, request.form, request.headers.get("X-Twilio-Signature"))


@bp.post("/twilio/messages")
def inbound_message():
    rt = _runtime()
    _verify(rt)
    inbound = twilio_channel.parse_inbound(request.form)
    replies = router.handle(rt, inbound, time.time())  # its claim also queues the message's deletion at Twilio
    sms_settings = rt.settings if registry.get(inbound.channel).segmented else None  # WhatsApp: no segments
    return Response(twilio_channel.render_twiml(replies, sms_settings), mimetype="application/xml")


@bp.post("/twilio/status")
def status_callback():
    rt = _runtime()
    _verify(rt)
    update = twilio_channel.parse_status(request.form)
    router.handle_status(rt, update, time.time())
    return Response(twilio_channel.render_twiml([]), mimetype="application/xml")
