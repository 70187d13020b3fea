"""Every channel the hotline speaks, registered once: look one up by name or by address.

Adding a channel (Signal, Telegram, voice) is one module in `bot/channels/`
with a `Channel` subclass that registers itself (`base.register`), its wire
format, one import line here, and its HTTP routes in `bot/webhook.py` (or a
module like `bot/chat.py`); nothing past the router changes, because
everything asks the channel's capabilities instead of testing its name.
"""

from __future__ import annotations

from . import twilio, webchat  # noqa: F401 -- importing a channel module registers its channels
from .base import _CHANNELS, can_text_later, for_address, get

CHANNELS = _CHANNELS
"""By name. A new channel's address carries its own `name:` prefix (a bare number is SMS)."""

__all__ = ["CHANNELS", "get", "for_address", "can_text_later"]
