"""The shapes every channel shares: `Inbound`, `Media`, `Channel`, and the table channels register in.

No channel module is imported here (each imports this one and registers
itself), so the wire formats and the registry never import in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PermanentSend


@dataclass(frozen=True)
class Media:
    """One attachment: where Twilio holds it and its content type."""

    url: str
    content_type: str


@dataclass(frozen=True)
class Inbound:
    """One message to the hotline, already verified and parsed."""

    channel: str  # a registered channel's name: "sms" | "whatsapp" | "web"
    address: str  # the sender as their channel knows them: "+1...", "whatsapp:+1...", "web:<chat id>"
    body: str
    message_sid: str
    to: str = ""
    media: tuple[Media, ...] = ()
    lat: float | None = None
    lon: float | None = None
    profile_language: str | None = None  # a hint only (web chat's browser language)
    place_name: str = ""  # what a shared WhatsApp location calls itself (Twilio's Label / Address)
    opt_out_type: str | None = None  # Twilio's OptOutType: STOP | START | HELP (Advanced Opt-Out answered it)
    client: str = (
        ""  # web chat: the keyed hash of the client's address (guard.client_key), for its flood cap; never an address
    )

    @property
    def has_pin(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def can_text_later(self) -> bool:
        """Whether the hotline can text this sender after this message (reminders, replays, follow-ups)."""
        return can_text_later(self.channel)


class Channel:
    """What the hotline may ask of one channel; a new channel subclasses this in its own module.

    `can_text_later`: the hotline may start a text to this address after the
    conversation (dispatch, follow-ups, reminders, alerts, enrollment as an
    observer); a web chat page cannot be reached once closed.
    """

    name: str = ""
    can_text_later: bool = False
    segmented: bool = False
    """Bodies are billed in SMS segments (GSM-7/UCS-2): sent GSM-7-safe where the network chose so."""
    max_body_chars: int = 1600
    """Longest body one message carries; longer inbound text is cut, not refused."""
    session_window: bool = False
    """Freeform texts reach a contact only within 24 h of their last message; later, only an approved
    template (WhatsApp's customer service window; `bot/whatsapp_window.py`)."""

    def owns(self, address: str) -> bool:
        """Tell whether an address (`Inbound.address`) belongs to this channel."""
        raise NotImplementedError

    def segments(self, settings, body: str) -> int:
        """What one text costs against the sender's throughput (SMS segments; 1 elsewhere)."""
        return 1

    def send(
        self, rt, address: str, body: str, validity_s: int | None = None, template: tuple[str, dict] | None = None
    ) -> str:
        """Send one text the hotline starts; return the message id. Raise Retryable/PermanentSend.

        `validity_s`: drop the text rather than deliver it later than this (where the channel can).
        `template`: (content sid, variables) of an approved template to send instead of the body.
        """
        raise PermanentSend(f"{self.name} cannot be texted later")

    def sms_address(self, address: str) -> str | None:
        """The same person's address for an SMS (a WhatsApp number without its prefix), or None."""
        return None

    def find_sent(self, rt, address: str, body: str, since: float | None = None) -> str | None:
        """The status of an uncertain send: the id of a message sent with this body (at/after `since`), or None."""
        return None

    def find_recent(self, rt, address: str, since: float | None = None) -> list[str]:
        """The ids of messages sent to an address at/after `since`, whatever their body (newest first)."""
        return []

    def is_opt_out(self, exc: PermanentSend) -> bool:
        """Whether a refused send means the recipient opted out (the outbox then records it)."""
        return False


_CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    """Register a channel under its name (once, by its own module at import); return it."""
    if channel.name in _CHANNELS:
        raise ValueError(f"channel {channel.name!r} is registered twice")
    _CHANNELS[channel.name] = channel
    return channel


def get(name: str) -> Channel:
    """The channel called `name` (an `Inbound.channel`); KeyError for an unknown one."""
    return _CHANNELS[name]


def for_address(address: str) -> Channel:
    """The channel an address belongs to (`whatsapp:+1…`, `web:…`, a bare number for SMS)."""
    for channel in _CHANNELS.values():
        if channel.owns(address):
            return channel
    raise KeyError("no channel owns this address")


def can_text_later(name: str) -> bool:
    """Whether the hotline can start a text on this channel later (False for an unknown name)."""
    channel = _CHANNELS.get(name)
    return bool(channel and channel.can_text_later)
