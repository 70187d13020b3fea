"""Wire-neutral messages: what every channel turns its traffic into.

`Inbound` is the one shape the router sees, whether the text came by SMS,
WhatsApp or the web chat. The raw address (`e164`) exists only here and in
`privacy`; everything past the router uses `contact_id`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Media:
    """One attachment: where Twilio holds it and its content type."""

    url: str
    content_type: str


@dataclass(frozen=True)
class Inbound:
    """One message to the hotline, already verified and parsed."""

    channel: str  # "sms" | "whatsapp" | "web"
    e164: str  # sender address; "whatsapp:+1..." for WhatsApp, a web id for chat
    body: str
    message_sid: str
    to: str = ""
    media: tuple[Media, ...] = ()
    lat: float | None = None
    lon: float | None = None
    profile_language: str | None = None  # a hint only (web chat's browser language)

    @property
    def has_pin(self) -> bool:
        return self.lat is not None and self.lon is not None
