"""Twilio's wire format: inbound forms, signatures, TwiML, the REST client, error codes.

Everything that knows Twilio's parameter names lives here (courier's
`handlers/twiml` idea), so the rest of the hotline sees only `Inbound`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from ..errors import (
    BadRequest,
    ConfigError,
    Forbidden,
    MediaRefused,
    PermanentSend,
    RetryableSend,
    SendError,
    SendingPaused,
)
from . import sms, twilio_errors
from .base import Channel, Inbound, Media, register
from .twilio_errors import CONTENT, RECIPIENT, SENDER, TwilioError, classify

log = logging.getLogger(__name__)

TWILIO_PUBLIC_BASE = "https://api.twilio.com"
"""The base every twilio-python URL starts with; rewritten to TWILIO_API_BASE."""

MAX_BODY_CHARS = 1600
"""Twilio's own cap on one message body; longer inbound text is cut, not refused."""

MAX_MEDIA = 10
"""Twilio sends at most 10 media items per MMS."""

OPTED_OUT = twilio_errors.OPTED_OUT
"""Twilio error code for a recipient who replied STOP."""

MAX_VALIDITY_S = 36000
"""Twilio's ceiling for ValidityPeriod (10 hours; https://www.twilio.com/docs/api/errors/90007)."""

STATUS_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "receiving": 3,
    "received": 4,
    "delivered": 5,
    "read": 6,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "partially_delivered": 5,
}
"""Rank of Twilio message statuses; callbacks arrive unordered and never downgrade."""


# ---- inbound -----------------------------------------------------------------
def verify_signature(auth_token: str | None, url: str, params: Mapping[str, str], signature: str | None) -> None:
    """Raise Forbidden unless the request carries Twilio's signature for url+params."""
    if not auth_token:
        raise Forbidden("no TWILIO_AUTH_TOKEN configured: webhooks cannot be verified")
    if not signature:
        raise Forbidden("missing X-Twilio-Signature")
    if not RequestValidator(auth_token).validate(url, dict(params), signature):
        raise Forbidden("bad X-Twilio-Signature")


def signed_url(public_url: str | None, path: str, query: str, own_url: str) -> str:
    """The URL Twilio signed: PUBLIC_URL + path (+ query) behind a proxy, else the request's own URL."""
    if not public_url:
        return own_url
    return public_url.rstrip("/") + path + (f"?{query}" if query else "")


def _coord(raw: str | None, limit: float) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest("Latitude/Longitude must be numbers") from None
    if not -limit <= value <= limit:
        raise BadRequest("Latitude/Longitude out of range")
    return value


def parse_inbound(form: Mapping[str, str]) -> Inbound:
    """Turn Twilio's inbound form into an Inbound; BadRequest if a required field is missing."""
    sender = (form.get("From") or "").strip()
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sender or not sid:
        raise BadRequest("From and MessageSid are required")
    if len(sid) > 64:
        raise BadRequest("MessageSid too long")
    try:
        num_media = min(int(form.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        raise BadRequest("NumMedia must be a number") from None
    media = tuple(
        Media(form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
        for i in range(num_media)
        if form.get(f"MediaUrl{i}")
    )
    lat, lon = _coord(form.get("Latitude"), 90), _coord(form.get("Longitude"), 180)
    if (lat is None) != (lon is None):
        raise BadRequest("Latitude and Longitude come together")
    return Inbound(
        channel=WHATSAPP.name if WHATSAPP.owns(sender) else SMS.name,
        address=sender,
        body=(form.get("Body") or "")[:MAX_BODY_CHARS],
        message_sid=sid,
        to=form.get("To", ""),
        media=media,
        lat=lat,
        lon=lon,
        place_name=_place_name(form) if lat is not None else "",
        opt_out_type=_opt_out_type(form.get("OptOutType")),
    )


PLACE_NAME_MAX = 120
"""Characters of a shared location's name kept: a business name and a street address."""


def _place_name(form: Mapping[str, str]) -> str:
    """Name a WhatsApp location pin the way the sender's app did: `Label, Address` (either may be absent)."""
    parts = [" ".join((form.get(k) or "").split()) for k in ("Label", "Address")]
    return ", ".join(p for p in parts if p)[:PLACE_NAME_MAX]


OPT_OUT_TYPES = ("STOP", "START", "HELP")
"""Values of the inbound `OptOutType` parameter, sent when a Messaging Service with Advanced
Opt-Out recognised one of the account's own keywords (any language) and already answered it
(https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out)."""


def _opt_out_type(raw: str | None) -> str | None:
    value = (raw or "").strip().upper()
    return value if value in OPT_OUT_TYPES else None


def render_twiml(replies: list[str] | tuple[str, ...], sms_settings=None) -> str:
    """Answer a webhook with zero or more <Message>s (GSM-7-safe for an SMS when `sms_settings` asks)."""
    response = MessagingResponse()
    for body in replies:
        response.message(sms_body(sms_settings, body) if sms_settings is not None else body)
    return str(response)


def sms_body(settings, body: str) -> str:
    """The body as this network sends it by SMS: GSM-7-safe for HOTLINE_SMS_GSM7_LANGUAGES (channels/sms.py)."""
    return sms.gsm7_for(body, getattr(settings, "sms_gsm7_languages", ()))


@dataclass(frozen=True)
class StatusUpdate:
    """One status callback for an outbound message."""

    message_sid: str
    status: str
    error_code: int | None

    @property
    def failed(self) -> bool:
        """Twilio gave up on this message (it will never arrive)."""
        return self.status in ("undelivered", "failed", "canceled")

    @property
    def error(self) -> TwilioError | None:
        """What the failure means (twilio_errors), or None when it did not fail.

        `canceled` without a code is a message Twilio dropped before sending; it is
        classified like an expired one (not the recipient's fault).
        """
        if not self.failed:
            return None
        return classify(self.error_code or (twilio_errors.EXPIRED if self.status == "canceled" else None))

    @property
    def permanent_failure(self) -> str | None:
        """The reason this recipient can never get texts (recipient-permanent codes only), or None."""
        err = self.error
        return err.reason if err is not None and err.kind == RECIPIENT else None


def parse_status(form: Mapping[str, str]) -> StatusUpdate:
    """Turn a status callback form into a StatusUpdate."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or status not in STATUS_ORDER:
        raise BadRequest("MessageSid and a known MessageStatus are required")
    raw_code = form.get("ErrorCode") or ""
    try:
        code = int(raw_code) if raw_code else None
    except ValueError:
        raise BadRequest("ErrorCode must be a number") from None
    return StatusUpdate(sid, status, code)


# ---- outbound ----------------------------------------------------------------
class BaseUrlHttpClient(TwilioHttpClient):
    """twilio's own HTTP client, pointed at TWILIO_API_BASE and always with a timeout.

    This is twilio-python's documented extension point (custom http_client); the
    client itself is not replaced, so every request is the one Twilio would get.
    """

    def __init__(self, api_base: str, timeout_s: float):
        super().__init__(timeout=timeout_s, pool_connections=True)
        self.api_base = api_base.rstrip("/")
        if self.session is not None:
            # Keep-alive to the fake or to Twilio: one TCP+TLS handshake per process,
            # not per dispatch text (the dispatch latency budget is one HTTP call).
            self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))

    def request(
        self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        if url.startswith(TWILIO_PUBLIC_BASE) and self.api_base != TWILIO_PUBLIC_BASE:
            url = self.api_base + url[len(TWILIO_PUBLIC_BASE) :]
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def make_client(settings) -> Client:
    """Build the one twilio Client of a process, aimed at settings.twilio_api_base."""
    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed to send texts")
    http_client = BaseUrlHttpClient(settings.twilio_api_base, settings.twilio_timeout_s)
    # The library logs full request bodies (numbers, texts) at INFO: keep it quiet.
    http_client.logger.setLevel(logging.WARNING)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)


def send(
    client: Client,
    settings,
    to: str,
    body: str,
    status_callback: str | None = None,
    *,
    validity_s: int | None = None,
    content_sid: str | None = None,
    content_variables: dict | None = None,
) -> str:
    """Send one message through Twilio and return its sid.

    `validity_s` makes Twilio drop the message (error 30036) rather than deliver it
    later than it is useful. `content_sid` sends an approved template instead of a
    body (WhatsApp outside the 24-hour window). Raises SendingPaused for an error of
    the hotline's own account or sender, PermanentSend (with `.kind` recipient or
    content) for one no retry fixes, RetryableSend for the rest.
    """
    kwargs: dict = {"to": to}
    if content_sid:
        kwargs["content_sid"] = content_sid
        if content_variables:
            kwargs["content_variables"] = json.dumps({str(k): str(v) for k, v in content_variables.items()})
    else:
        kwargs["body"] = body if to.startswith(WHATSAPP_PREFIX) else sms_body(settings, body)
    if validity_s:
        kwargs["validity_period"] = max(1, min(int(validity_s), MAX_VALIDITY_S))
    if getattr(settings, "twilio_smart_encoded", False) and not to.startswith("whatsapp:"):
        kwargs["smart_encoded"] = True
    if settings.twilio_messaging_service_sid:
        kwargs["messaging_service_sid"] = settings.twilio_messaging_service_sid
    else:
        sender = settings.twilio_number
        if to.startswith("whatsapp:") and not sender.startswith("whatsapp:"):
            sender = "whatsapp:" + sender
        kwargs["from_"] = sender
    if status_callback:
        kwargs["status_callback"] = status_callback
    try:
        message = client.messages.create(**kwargs)
    except (TwilioRestException, TwilioServiceException) as exc:
        raise send_error(exc) from None
    except requests.RequestException as exc:  # timeout, refused, reset: may or may not have sent
        raise RetryableSend(f"twilio unreachable: {type(exc).__name__}") from None
    return message.sid


def send_error(exc: TwilioRestException | TwilioServiceException) -> SendError:
    """Turn a twilio-python exception (either kind) into the hotline's SendError for its class."""
    code = exc.code if isinstance(exc.code, int) else None
    status = exc.status if isinstance(exc.status, int) else None
    err = classify(code, status)
    label = f"twilio {err.kind} error {code or status}: {err.reason}"
    if err.kind == SENDER:
        return SendingPaused(label, code=code, http_status=status, kind=SENDER)
    if err.kind in (RECIPIENT, CONTENT):
        return PermanentSend(label, code=code, http_status=status, kind=err.kind)
    return RetryableSend(label, code=code, http_status=status, kind=err.kind)


def check_account(client: Client, account_sid: str) -> TwilioError | None:
    """Ask Twilio whether the account and credentials work now; None if they do, else the error.

    The probe of a sending pause: one GET of the Account resource, no text to anyone.
    """
    try:
        account = client.api.v2010.accounts(account_sid).fetch()
    except (TwilioRestException, TwilioServiceException) as exc:
        err = classify(exc.code if isinstance(exc.code, int) else None, exc.status)
        return err if err.kind in (SENDER, RECIPIENT, CONTENT) else TwilioError(err.code, SENDER, err.reason)
    except requests.RequestException:
        return TwilioError(None, SENDER, "unreachable")
    if account.status != "active":
        return TwilioError(30002, SENDER, f"account_{account.status}")
    return None


def delete_message(client: Client, sid: str) -> str:
    """Delete one Message resource at Twilio (its media go with it); "deleted" or "gone" if already so.

    https://www.twilio.com/docs/messaging/api/message-resource (DELETE) — Twilio keeps
    bodies and photos until someone deletes them. 20009 (not complete yet) and
    Twilio-side errors raise RetryableSend: the caller's RQ Retry tries again later.
    """
    return _delete(client.messages(sid))


CALL_SETTLED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
"""Call statuses after which a call is over (https://www.twilio.com/docs/voice/api/call-resource#call-status-values)."""

CHILD_CALLS_LIMIT = 20
"""Dialed legs of one call looked up for deletion (a <Dial> rings at most ten numbers)."""


def delete_call(client: Client, sid: str) -> int:
    """Delete a finished call and the legs it dialed at Twilio (their numbers, times); return how many went.

    https://www.twilio.com/docs/voice/api/call-resource (DELETE). A call still in
    progress raises RetryableSend (RQ retries later); a call already gone counts 0.
    """
    try:
        call = client.calls(sid).fetch()
        if call.status not in CALL_SETTLED:
            raise RetryableSend(f"call not finished yet ({call.status})", code=twilio_errors.NOT_COMPLETE)
        deleted = 0
        for child in client.calls.list(parent_call_sid=sid, limit=CHILD_CALLS_LIMIT):
            if child.status not in CALL_SETTLED:
                raise RetryableSend(
                    f"a dialed leg is not finished yet ({child.status})", code=twilio_errors.NOT_COMPLETE
                )
            client.calls(child.sid).delete()
            deleted += 1
        client.calls(sid).delete()
    except (TwilioRestException, TwilioServiceException) as exc:
        if exc.status == 404 or exc.code == 20404:
            return 0
        raise send_error(exc) from None
    except requests.RequestException as exc:
        raise RetryableSend(f"twilio unreachable: {type(exc).__name__}") from None
    return deleted + 1


MEDIA_CHUNK = 64 * 1024
"""Bytes read at a time from a media URL, so an oversized photo is cut off, not buffered."""


def fetch_media(settings, url: str, max_bytes: int) -> tuple[bytes, str]:
    """Fetch one photo Twilio holds (a MediaUrl) with the account's credentials; return (bytes, content type).

    Twilio serves media at the Media resource's URI without `.json`, behind HTTP
    Basic auth when the account enforces it
    (https://www.twilio.com/docs/messaging/api/media-resource); the answer may
    redirect to Twilio's media storage, and requests drops the credentials on a
    redirect to another host. Credentials go only to Twilio's API (or
    TWILIO_API_BASE), never to a URL elsewhere. Raises MediaRefused for what no
    retry changes (not Twilio's, gone, not an image, larger than `max_bytes`),
    RetryableSend for the rest (5xx, 429, a wrong token until it is fixed, no answer).
    """
    base = settings.twilio_api_base.rstrip("/")
    if url.startswith(TWILIO_PUBLIC_BASE + "/") and base != TWILIO_PUBLIC_BASE:
        url = base + url[len(TWILIO_PUBLIC_BASE) :]
    if not url.startswith(base + "/") or "/Media/" not in url:
        raise MediaRefused("not a Twilio media URL")
    try:
        with requests.get(
            url,
            auth=(settings.twilio_account_sid or "", settings.twilio_auth_token or ""),
            timeout=settings.twilio_timeout_s,
            stream=True,
        ) as response:
            if response.status_code == 404:
                raise MediaRefused("gone at Twilio")
            if response.status_code != 200:
                raise RetryableSend(f"twilio media answered {response.status_code}", http_status=response.status_code)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not content_type.startswith("image/"):
                raise MediaRefused(f"not an image ({content_type or 'no content type'})")
            if int(response.headers.get("Content-Length") or 0) > max_bytes:
                raise MediaRefused("larger than HOTLINE_PHOTO_MAX_BYTES")
            data = bytearray()
            for chunk in response.iter_content(MEDIA_CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise MediaRefused("larger than HOTLINE_PHOTO_MAX_BYTES")
    except requests.RequestException as exc:
        raise RetryableSend(f"twilio unreachable: {type(exc).__name__}") from None
    return bytes(data), content_type


def delete_media(client: Client, url: str) -> str:
    """Delete one Media resource at Twilio by its URL; "deleted", or "gone" if it already was."""
    parts = url.rstrip("/").split("/")
    try:
        message_sid, media_sid = parts[parts.index("Messages") + 1], parts[parts.index("Media") + 1]
    except (ValueError, IndexError):
        raise MediaRefused("not a Twilio media URL") from None
    return _delete(client.messages(message_sid).media(media_sid.removesuffix(".json")))


LOOKUP_LIMIT = 20
"""Recent messages to one number checked when reconciling an uncertain send."""

CLOCK_SKEW_S = 120
"""A message Twilio dated this much before our attempt still counts as it (our clock vs Twilio's)."""


def find_sent(client: Client, to: str, body: str, sender: str | None = None, since: float | None = None) -> str | None:
    """Return the sid of a message already sent to `to` with exactly this body, or None (see `list_sent`)."""
    return next((sid for sid, sent in list_sent(client, to, sender, since) if sent == body), None)


def list_sent(client: Client, to: str, sender: str | None = None, since: float | None = None) -> list[tuple[str, str]]:
    """(sid, body) of the messages sent to `to` no earlier than our attempt, as Twilio lists them (newest first).

    A 5xx or a dropped connection on create may still have sent; asking Twilio's
    message list is the only way to know before sending again. Twilio's Messages
    API has no idempotency key, and its `DateSent` filter is by whole day (and empty
    while a message is queued), so the list is read by `To` (and `From` when we send
    from a number) and narrowed here: created no earlier than our attempt (`since`,
    less CLOCK_SKEW_S) — https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-resources
    """
    filters = {"to": to, "limit": LOOKUP_LIMIT}
    if sender:
        filters["from_"] = sender
    found = []
    try:
        for message in client.messages.list(**filters):
            created = message.date_created.timestamp() if message.date_created else None
            if since is not None and created is not None and created < since - CLOCK_SKEW_S:
                continue
            found.append((message.sid, message.body))
    except (TwilioRestException, TwilioServiceException) as exc:
        error = send_error(exc)
        if isinstance(error, SendingPaused):
            raise error from None
        raise RetryableSend(str(error), code=error.code, http_status=error.http_status) from None
    except requests.RequestException as exc:  # cannot tell yet: the caller retries later
        raise RetryableSend(f"twilio unreachable: {type(exc).__name__}") from None
    return found


def status_callback_url(settings) -> str | None:
    """Where Twilio should post status callbacks, when a public URL is known."""
    return settings.public_url.rstrip("/") + "/twilio/status" if settings.public_url else None


WHATSAPP_PREFIX = "whatsapp:"
"""Twilio's prefix of a WhatsApp address; the same number without it is an SMS address."""


class TwilioChannel(Channel):
    """SMS or WhatsApp through Twilio's Messages API (same client, same status callbacks)."""

    can_text_later = True
    max_body_chars = MAX_BODY_CHARS

    def __init__(self, name: str, prefix: str = "", segmented: bool = False, session_window: bool = False):
        self.name, self.prefix, self.segmented, self.session_window = name, prefix, segmented, session_window

    def segments(self, settings, body: str) -> int:
        return sms.segments(sms_body(settings, body))[0] if self.segmented else 1

    def owns(self, address: str) -> bool:
        # A bare number is SMS; every other channel's address carries a `name:` prefix.
        return address.startswith(self.prefix) if self.prefix else ":" not in address

    def send(
        self, rt, address: str, body: str, validity_s: int | None = None, template: tuple[str, dict] | None = None
    ) -> str:
        return send(
            rt.twilio,
            rt.settings,
            address,
            body,
            status_callback=status_callback_url(rt.settings),
            validity_s=validity_s,
            content_sid=template[0] if template else None,
            content_variables=template[1] if template else None,
        )

    def sms_address(self, address: str) -> str | None:
        return address.removeprefix(WHATSAPP_PREFIX) if self.prefix == WHATSAPP_PREFIX else None

    def find_sent(self, rt, address: str, body: str, since: float | None = None) -> str | None:
        sent = body if self.prefix else sms_body(rt.settings, body)
        return find_sent(rt.twilio, address, sent, self._sender(rt, address), since)

    def find_recent(self, rt, address: str, since: float | None = None) -> list[str]:
        return [sid for sid, _body in list_sent(rt.twilio, address, self._sender(rt, address), since)]

    def _sender(self, rt, address: str) -> str | None:
        """The `From` the hotline sends to this address from (None with a Messaging Service: it picks)."""
        settings = rt.settings
        sender = None if settings.twilio_messaging_service_sid else settings.twilio_number
        if sender and address.startswith(WHATSAPP_PREFIX) and not sender.startswith(WHATSAPP_PREFIX):
            sender = WHATSAPP_PREFIX + sender
        return sender

    def is_opt_out(self, exc: PermanentSend) -> bool:
        return exc.code == OPTED_OUT


SMS = register(TwilioChannel("sms", segmented=True))
WHATSAPP = register(TwilioChannel("whatsapp", WHATSAPP_PREFIX, session_window=True))


__all__ = [
    "SMS",
    "WHATSAPP",
    "TwilioChannel",
    "verify_signature",
    "signed_url",
    "parse_inbound",
    "render_twiml",
    "parse_status",
    "StatusUpdate",
    "make_client",
    "send",
    "find_sent",
    "status_callback_url",
    "SendError",
    "send_error",
    "check_account",
    "delete_message",
    "delete_call",
    "fetch_media",
    "delete_media",
    "classify",
    "OPTED_OUT",
]


def _delete(resource) -> str:
    """DELETE one resource at Twilio: "deleted", or "gone" if Twilio no longer has it (404/20404).

    Twilio-side errors raise through send_error (20009 "not complete yet" is retryable), and an
    unreachable Twilio raises RetryableSend: the caller's RQ Retry tries again later.
    """
    try:
        resource.delete()
    except (TwilioRestException, TwilioServiceException) as exc:
        if exc.status == 404 or exc.code == 20404:
            return "gone"
        raise send_error(exc) from None
    except requests.RequestException as exc:
        raise RetryableSend(f"twilio unreachable: {type(exc).__name__}") from None
    return "deleted"
