"""The hotline's exception tree: one flat list named for what happened.

HTTP-facing errors carry `.status` so one handler in `create_app` can turn
them into a plain 4xx (datasette's Base400 idea); anything else is a 500.
"""

import os
import traceback


class HotlineError(Exception):
    """Base of every error the hotline raises on purpose.

    `code` names what happened for machines (the console's JSON API answers it beside its
    translated message, `bot/dashboard/refusals.py`); `params` are the values the message names.
    """

    status = 500
    code = "error"

    def __init__(self, *args, code: str = "", **params):
        super().__init__(*args)
        if code:
            self.code = code
        self.params = params


class ConfigError(HotlineError):
    """A configuration value is missing or malformed; raised before serving."""


class BadRequest(HotlineError):
    """A request is malformed (missing required Twilio fields, bad JSON)."""

    status = 400


class Forbidden(HotlineError):
    """A webhook's signature is missing or wrong."""

    status = 403


class NoSuchIncident(HotlineError):
    """An incident id names nothing stored."""

    status = 404


class MediaRefused(HotlineError):
    """A photo will not be kept: too large, not an image, not at Twilio, or gone there."""


class SendError(HotlineError):
    """An outbound message was not accepted by Twilio."""

    def __init__(self, message: str, code: int | None = None, http_status: int | None = None, kind: str = ""):
        super().__init__(message)
        self.code, self.http_status, self.kind = code, http_status, kind


class RetryableSend(SendError):
    """Twilio may accept the same send later (429/20429, 5xx, connection errors).

    `via` says how the attempt went when it was not the plain text to the address asked
    for (`outbox.VIA_TEMPLATE`, `outbox.VIA_SMS`): what a retry must look for at Twilio.
    """

    via: str = ""


class Reconciling(RetryableSend):
    """An earlier attempt may have sent and Twilio's list does not show it yet: ask again later, never resend now."""


class PermanentSend(SendError):
    """Twilio will never deliver this send: `kind` says whose fault (recipient or content)."""


def where(exc: BaseException) -> str:
    """Name an unexpected exception by type and innermost place, without its message or traceback.

    A message or a traceback's locals may quote what a caller texted; the type and
    `file:line` are enough to find the bug and safe to log.
    """
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not frames:
        return type(exc).__qualname__
    last = frames[-1]
    return f"{type(exc).__qualname__} at {os.path.basename(last.filename)}:{last.lineno} in {last.name}"


class SendingPaused(RetryableSend):
    """Nothing can be sent until the hotline's Twilio account or sender is fixed (20003, 21606, ...).

    Raised for the sender error itself and for every send while the pause lasts; the
    caller keeps its work queued and never blames the recipient.
    """
