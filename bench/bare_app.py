"""The baseline for bench/webhook.py: a bare Flask endpoint answering fixed TwiML.

It does no signature check, no Redis, no flow: only what Flask and gunicorn cost
to take a Twilio-shaped form post and answer it, so the hotline's share of the
time is what the benchmark shows. The TwiML is the hotline's own first reply
(read from BARE_TWIML_FILE), byte for byte.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request

FALLBACK_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
    "Thanks. What is happening? Reply 1 raid, 2 arrest, 3 checkpoint, 4 agents seen."
    "</Message></Response>"
)
"""Used only when the bench did not hand over the hotline's real reply."""


def create_app() -> Flask:
    """Build the bare app (a factory, like the hotline's, for gunicorn's 'bare_app:create_app()')."""
    path = os.environ.get("BARE_TWIML_FILE")
    twiml = open(path, encoding="utf-8").read() if path else FALLBACK_TWIML
    app = Flask(__name__)

    @app.post("/twilio/messages")
    def inbound():
        request.form.get("Body")  # parse the form, as any real endpoint must
        return Response(twiml, mimetype="application/xml")

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app
