"""Whose phone rings when a caller asks for a person: dispatchers on shift, else HOTLINE_COORDINATORS.

A dispatcher is a console account with a phone (`hotline coordinators phone`),
on duty by the same weekly-shift rules as observers (observers.duty); an
account with a phone and no shifts is always rung. With nobody like that the
hotline's escalation numbers are rung instead, so a network that never set
phones still reaches a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import coordinators, observers, privacy

MAX_NUMBERS = 10
"""Twilio dials at most ten <Number>s at once in one <Dial>."""


@dataclass(frozen=True)
class Dispatcher:
    """Someone the call rings: their console name ("" for an escalation number) and number."""

    name: str
    e164: str
    label: str  # what the board and the screening prompt call them: the name, or "coordinator N"


def on_shift(r, settings, now: float) -> list[Dispatcher]:
    """The dispatchers to ring now, at most MAX_NUMBERS, the caller's own hotline number never among them."""
    found = []
    for account in coordinators.with_phones(r):
        duty = {"shifts": account["shifts"], "timezone": account["timezone"] or settings.timezone, "on_call": "1"}
        if not observers.is_on_duty(duty, now):
            continue
        e164 = privacy.unseal(settings.secret, account["phone"])
        if e164:
            found.append(Dispatcher(account["name"], e164, account["name"]))
    if not found:
        found = escalation_numbers(settings)
    return [d for d in found if d.e164 != settings.twilio_number][:MAX_NUMBERS]


def escalation_numbers(settings) -> list[Dispatcher]:
    """HOTLINE_COORDINATORS as dispatchers ("coordinator 1", ...): rung when no phone is on shift, or Redis is down."""
    return [Dispatcher("", e164, f"coordinator {i + 1}") for i, e164 in enumerate(settings.coordinators)]
