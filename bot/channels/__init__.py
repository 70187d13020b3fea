"""Wire-neutral messages: what every channel turns its traffic into.

`Inbound` is the one shape the router sees, whether the text came by SMS,
WhatsApp or the web chat; `Channel` is what the rest of the hotline may ask of
a channel (can it text this person later, how long may a body be, send one,
did one go out). Each channel is one module here (`twilio.py` holds SMS and
WhatsApp, `webchat.py` the web chat) registered once in `registry.py`, with
its HTTP routes in `bot/webhook.py` or `bot/chat.py`. The raw address
(`Inbound.address`) exists only here and in `privacy`; everything past the
router uses `contact_id`, and a text the hotline starts unseals an address
just before `outbox.send` hands it back to its channel.
"""

from __future__ import annotations

from . import registry  # noqa: F401 -- imports every channel module, which registers it
from .base import Channel, Inbound, Media

__all__ = ["Channel", "Inbound", "Media", "registry"]
