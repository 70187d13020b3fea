"""HTTP routes Twilio calls: inbound messages and status callbacks.

Thin views (verify → parse → route → render); every decision about a message
is the router's, every Twilio wire detail is `channels/twilio`'s.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, request

from . import router
from .channels import twilio as twilio_channel

bp = Blueprint("webhook", __name__)


def _runtime():
    return current_app.extensions["hotline"]


def _verify(rt) -> None:
    """Check X-Twilio-Signature against PUBLIC_URL + path (+ query), as Twilio signed it."""
    base = rt.settings.public_url
    if base:
        query = request.query_string.decode()
        url = base.rstrip("/") + request.path + (f"?{query}" if query else "")
    else:
        url = request.url
    twilio_channel.verify_signature(
        rt.settings.twilio_auth_token, url, request.form, request.headers.get("X-Twilio-Signature")
    )


@bp.post("/twilio/messages")
def inbound_message():
    rt = _runtime()
    _verify(rt)
    inbound = twilio_channel.parse_inbound(request.form)
    replies = router.handle(rt, inbound, time.time())
    return Response(twilio_channel.render_twiml(replies), mimetype="application/xml")


@bp.post("/twilio/status")
def status_callback():
    rt = _runtime()
    _verify(rt)
    update = twilio_channel.parse_status(request.form)
    router.handle_status(rt, update, time.time())
    return Response(twilio_channel.render_twiml([]), mimetype="application/xml")
