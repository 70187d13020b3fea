"""Every channel the hotline speaks, registered once: look one up by name or by address.

Adding a channel (Signal, Telegram, voice) is one module in `bot/channels/`
with a `Channel` subclass and its wire format, one line here, and its HTTP
routes in `bot/webhook.py` (or a module like `bot/chat.py`); nothing past the
router changes, because everything asks the channel's capabilities instead of
testing its name.
"""

from __future__ import annotations

from . import Channel
from .twilio import SMS, WHATSAPP
from .webchat import WEB

CHANNELS: dict[str, Channel] = {c.name: c for c in (WHATSAPP, WEB, SMS)}
"""By name. A new channel's address carries its own `name:` prefix (a bare number is SMS)."""


def get(name: str) -> Channel:
    """The channel called `name` (an `Inbound.channel`); KeyError for an unknown one."""
    return CHANNELS[name]


def for_address(address: str) -> Channel:
    """The channel an address belongs to (`whatsapp:+1…`, `web:…`, else a phone number for SMS)."""
    for channel in CHANNELS.values():
        if channel.owns(address):
            return channel
    return SMS


def can_text_later(name: str) -> bool:
    """Whether the hotline can start a text on this channel later (False for an unknown name)."""
    channel = CHANNELS.get(name)
    return bool(channel and channel.can_text_later)
