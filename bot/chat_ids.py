"""Web chat ids: issued by the server, signed, and rotated on every answered post.

A browser keeps its chat in an HttpOnly cookie. The cookie is `[chat id, generation]`
signed with HOTLINE_SECRET by itsdangerous (Flask's own signer), so the server never
adopts an id a browser chose: a made-up or altered cookie fails the signature. Redis
keeps each chat's current generation under the chat's contact_id (never the id
itself); every answered post moves it on by one (`lua/webchat_rotate.lua`, atomic)
and the answer carries the new cookie. A copy of an older cookie -- another browser
that learned it from a shared phone or a planted link -- is refused from then on.

One older cookie is still let through: the one a phone resends *the same message*
with, after it lost the answer and the new cookie with it. The router's once-only
ids make that a replay, and the chat rotates again.

A Redis outage degrades to the signature alone (accepted, not rotated): a report is
never refused because a counter could not be read; the router spools it as usual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

from . import lua, privacy, spool, store
from .channels import webchat

log = logging.getLogger(__name__)

SALT = "hotline-webchat-id"
"""Keeps these signatures apart from any other use of HOTLINE_SECRET (Flask's session has its own)."""

MAX_AGE_S = 24 * 3600
"""A cookie older than this is refused, and the Redis record lives as long after the last post:
long enough to finish a report and read the answer, short enough that a shared phone forgets."""


@dataclass(frozen=True)
class ChatCookie:
    """What a valid cookie says: which chat, and which generation of its cookie."""

    chat_id: str
    generation: int

    @property
    def address(self) -> str:
        return webchat.ADDRESS_PREFIX + self.chat_id


def _signer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def issue(secret: str, cookie: ChatCookie) -> str:
    """The signed cookie value for a chat at a generation."""
    return str(_signer(secret).dumps([cookie.chat_id, cookie.generation]))


def new_chat() -> ChatCookie:
    """A chat nobody has used yet: a fresh random id at generation 0 (Redis is written on its first post)."""
    return ChatCookie(webchat.new_chat_id(), 0)


def read(secret: str, value: str | None) -> ChatCookie | None:
    """The chat a cookie names, or None when it is missing, forged, altered or too old."""
    if not value or len(value) > 200:
        return None
    try:
        chat_id, generation = _signer(secret).loads(value, max_age=MAX_AGE_S)
    except (BadData, TypeError, ValueError):
        return None
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
        return None
    if not isinstance(chat_id, str) or not webchat.valid_chat_id(chat_id):
        return None
    return ChatCookie(chat_id, generation)


def _key(secret: str, cookie: ChatCookie) -> str:
    return store.webchat_key(privacy.contact_id(secret, cookie.address))


def is_current(r, secret: str, cookie: ChatCookie) -> bool:
    """Tell whether a cookie is its chat's latest (read only; the page uses it to keep or replace a chat)."""
    try:
        stored = r.hget(_key(secret, cookie), "gen")
    except spool.OUTAGE_ERRORS:
        return True  # the signature is all we can check now
    return cookie.generation == (int(stored) if stored is not None else 0)


def rotate(r, secret: str, cookie: ChatCookie, message_sid: str) -> ChatCookie | None:
    """Accept a post under this cookie and return the chat's next cookie; None when the cookie is stale.

    During a Redis outage the same cookie is returned: the post goes on (to the spool).
    """
    try:
        generation = lua.run(
            r, "webchat_rotate", [_key(secret, cookie)], gen=cookie.generation, msg=message_sid, ttl=MAX_AGE_S
        )
    except spool.OUTAGE_ERRORS:
        log.warning("web chat id not rotated: redis unavailable")
        return cookie
    if int(generation) < 0:
        return None
    return ChatCookie(cookie.chat_id, int(generation))
