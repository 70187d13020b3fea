"""The web chat's wire format: JSON in, JSON out, the chat id and its CSRF token.

The web chat is one more channel on the same router, flows and sessions as SMS:
this module turns a browser's JSON post into the same `Inbound` the Twilio
webhook produces, so nothing past the router can tell (or needs to) which
channel a text came from. No Flask here (channels are below the HTTP layer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets

from ..errors import BadRequest
from .base import Channel, Inbound, register

CHANNEL = "web"
"""`Inbound.channel` of every web chat message."""

ADDRESS_PREFIX = "web:"
"""A web chat's address is `web:<chat id>`; its contact_id is the HMAC of that, like a number's."""

MAX_TEXT_CHARS = 1600
"""Same cap as one Twilio message body, so a flow sees the same texts from both channels."""

MAX_REQUEST_BYTES = 8 * 1024
"""A chat post is one short JSON object; anything bigger is refused before parsing."""

CHAT_ID_BYTES = 18
"""144 random bits: unguessable, so one browser cannot take over another's conversation."""

_CHAT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_MESSAGE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_FIELDS = {"id", "text", "lat", "lon"}


def new_chat_id() -> str:
    """Mint a random chat id for a browser that has none."""
    return secrets.token_urlsafe(CHAT_ID_BYTES)


def valid_chat_id(value: str | None) -> bool:
    """Tell whether a cookie value has the shape of a chat id this module minted."""
    return bool(value) and bool(_CHAT_ID_RE.match(value))


def csrf_token(secret: str, chat_id: str) -> str:
    """Return the anti-CSRF token for a chat id (stateless: an HMAC, checked on every post).

    The chat id lives in an HttpOnly cookie a script cannot read, so a page that
    knows this token was served to the same browser by us (synchronizer-token
    pattern without server state).
    """
    return hmac.new(secret.encode(), b"webchat-csrf:" + chat_id.encode(), hashlib.sha256).hexdigest()[:32]


def check_csrf(secret: str, chat_id: str, token: str | None) -> bool:
    """Tell whether a post carries the token issued for its chat id."""
    return bool(token) and hmac.compare_digest(csrf_token(secret, chat_id), token)


def message_sid(chat_id: str, client_id: str) -> str:
    """Return the once-only id of a chat message, namespaced by its chat.

    The id comes from the browser (so a retried post is recognised), but the
    router's once-only record is shared with Twilio's MessageSids: hashing in the
    chat id keeps one browser from replaying or colliding with anyone else's.
    """
    digest = hashlib.sha256(f"{chat_id}:{client_id}".encode()).hexdigest()[:32]
    return "WB" + digest


def _coord(payload: dict, name: str, limit: float) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    # bool is an int subclass in Python; `true` is not a coordinate.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{name} must be a number")
    value = float(value)
    if not -limit <= value <= limit:
        raise BadRequest(f"{name} out of range")
    return value


def parse_inbound(raw: bytes, chat_id: str, language_hint: str | None = None, client: str = "") -> Inbound:
    """Turn a chat post's JSON body into an Inbound; BadRequest when malformed or oversized.

    `client` is the keyed hash of the browser's address (the web layer's `guard.client_key`): one
    browser mints chat ids at will, so its new incidents are also capped per client (`incidents.caps`).
    """
    if not valid_chat_id(chat_id):
        raise BadRequest("no chat id")
    if len(raw) > MAX_REQUEST_BYTES:
        raise BadRequest("message too large")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):  # not JSON at all: the client's mistake, not ours
        raise BadRequest("body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object")
    unknown = set(payload) - _FIELDS
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    client_id = payload.get("id")
    if not isinstance(client_id, str) or not _MESSAGE_ID_RE.match(client_id):
        raise BadRequest("id must be 8-64 letters, digits, - or _")
    text = payload.get("text", "")
    if not isinstance(text, str):
        raise BadRequest("text must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest(f"text longer than {MAX_TEXT_CHARS} characters")
    lat, lon = _coord(payload, "lat", 90), _coord(payload, "lon", 180)
    if (lat is None) != (lon is None):
        raise BadRequest("lat and lon come together")
    if not text.strip() and lat is None:
        raise BadRequest("text or a location is required")
    return Inbound(
        channel=CHANNEL,
        address=ADDRESS_PREFIX + chat_id,
        body=text,
        message_sid=message_sid(chat_id, client_id),
        lat=lat,
        lon=lon,
        profile_language=language_hint,
        client=client,
    )


class WebChatChannel(Channel):
    """The web chat: answers go back in the HTTP response; nothing can reach the page later."""

    name = CHANNEL
    can_text_later = False
    max_body_chars = MAX_TEXT_CHARS

    def owns(self, address: str) -> bool:
        return address.startswith(ADDRESS_PREFIX)


WEB = register(WebChatChannel())


def render_replies(replies: list[str] | tuple[str, ...]) -> dict:
    """Answer a chat post with the reply bodies, in order."""
    return {"replies": [str(body) for body in replies]}
