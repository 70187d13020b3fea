"""Every sentence dispatch texts to observers, coordinators and reporters, as gettext msgids.

English is the msgid (i18n.py); keeping the strings in one place lets a
translator see the whole observer conversation at once and keeps the logic
modules free of prose.
"""

from __future__ import annotations

from .. import i18n, incidents
from ..i18n import N_

DISPATCH = N_(
    "Hotline {code}: report of {kind} near {place}, {km} km from you. Can you go? Reply YES {code} or NO {code}."
)
DISPATCH_UNCONFIRMED = N_(
    "Hotline {code}: UNCONFIRMED report of {kind} near {place}, {km} km from you. Many new numbers sent it at once: "
    "it may be false or a trap. Go only with a partner. Reply YES {code} or NO {code}."
)
"""The dispatch text of an "unusual" incident (a burst of newcomers, docs/incidents.md)."""
UNCONFIRMED = N_(
    "Hotline {code}: caution, this report is unconfirmed. Many new numbers sent it at once: it may be false "
    "or a trap. Go only with a partner and keep your distance."
)
"""Told once to observers texted before the incident was found unusual."""
AREA_ONLY = N_("{place} (area only, cross streets to follow)")
"""How a ZIP- or city-precision place reads: observers must know the point is not the scene."""
ACCEPTED = N_(
    "Thank you, you're going ({code}). Place: {place} {map}. Reported: {kind}{details}. "
    "Ref {ref}. From the scene reply ARRIVED {code}, VERIFIED {code} + agency/ID/plates, "
    "UNFOUNDED {code} or CLEAR {code}."
)
UPDATE = N_("Hotline {code} update: {details}. Place: {place} {map}")
"""The one batched text accepted observers get when the caller adds details after dispatch."""
AGENTS = N_("agents: {n}")
VEHICLES = N_("vehicles: {n}")
SINCE = N_("since {time}")
IDENTIFIER_NAMES = {
    "ice": N_("ICE"),
    "police": N_("police"),
    "hsi": N_("HSI"),
    "fbi": N_("FBI"),
    "cbp": N_("CBP/Border Patrol"),
    "masks": N_("masks"),
    "unmarked": N_("unmarked cars"),
    "no_plates": N_("no plates"),
    "plates": N_("plates seen"),
}
"""How the sighting flow's identifier codes read in an observer's text (`none` is left out)."""
DETAINED = {"yes": N_("someone detained"), "no": N_("nobody detained"), "unknown": N_("detention not known")}
STILL_LOOKING = N_("We are still looking for a second observer; never work alone.")
PARTNER_FOUND = N_("Hotline {code}: a second observer accepted. You are not alone.")
COVERED = N_("Hotline {code} is covered, thank you. No need to go.")
DECLINED = N_("OK, thanks. We'll ask someone else for {code}.")
ALREADY = N_("You already accepted {code}. Thank you.")
NO_OPEN = N_("You have no open dispatch right now.")
NO_OPEN_CODE = N_("There is no open dispatch {code}. You have none open right now.")
UNKNOWN_CODE = N_("There is no open dispatch {code}. Your open ones: {codes}.")
WHICH = N_("Which one? Reply {word} followed by the number: {codes}.")
CLOSED = N_("Hotline {code} is closed. Thank you.")
ACCEPT_FIRST = N_("Reply YES {code} first to take this dispatch.")
ARRIVED = N_("Noted: you are on scene for {code}. Stay safe. Reply VERIFIED {code}, UNFOUNDED {code} or CLEAR {code}.")
VERIFIED = N_("Verified recorded for {code}. Subscribers near the area will get an alert.")
UNFOUNDED = N_("Unfounded recorded for {code}. Thank you for checking.")
CLEARED = N_("Clear recorded for {code}. Thank you. Get home safe.")
MERGED = N_("Hotline {code} is the same scene as {new_code}: it now goes by {new_code}. Reply with {new_code}.")
STAND_DOWN = N_("Hotline {code}: the report was unfounded. Stand down, thank you.")
DUTY_ON = N_("You are ON duty. We'll text you about reports near you. Reply OFF to stop.")
DUTY_ON_UNTIL = N_("You are ON duty until {until}. Reply OFF to stop.")
DUTY_OFF = N_("You are OFF duty. Reply ON when you are available again.")
DUTY_OFF_UNTIL = N_("You are OFF duty until your next shift at {until}. Reply ON to come back sooner.")
JOINED = N_("Welcome to the rapid-response roster, {name}. Reply ON when you are available and OFF when not.")
BAD_JOIN = N_("That join code is not valid. Ask your coordinator for a new one.")
ESCALATE = N_(
    "Hotline {ref}: not enough observers in range can go ({kind} near {place}). Needed {needed}, accepted {accepted}. "
    "Declined: {declined}. No answer: {silent}. Unreachable: {unreachable}. Please dispatch by hand."
)
UNREACHABLE = N_("Hotline: observer {name} cannot be texted ({reason}). Please check their number.")
WORKER_DOWN = N_("Hotline warning: {problem}. Dispatch texts are not going out; restart the worker.")
SENDING_PAUSED = N_(
    "Hotline warning: Twilio refused our account or number (error {code}). Texts are paused and queued; "
    "they go out by themselves once it is fixed."
)
SENDING_THROTTLED = N_(
    "Hotline warning: Twilio is refusing texts (error {code}: rate limit or outage). Dispatch texts are held "
    "and go out by themselves when it answers; reach observers by phone if it cannot wait."
)
SENDING_RESUMED = N_(
    "Hotline: Twilio refused texts for {seconds} s (error {code}). The held dispatch texts ({waiting} incidents) "
    "are going out now."
)
FILTERED = N_(
    "Hotline {ref}: the carrier refused a {purpose} text (error {code}); it will likely refuse it for everyone. "
    "Please reach observers by phone."
)
ALERT_UNDELIVERED = N_(
    "Hotline {ref}: WhatsApp alerts to subscribers quiet for 24 h failed (error {code}). "
    "Set HOTLINE_WHATSAPP_TEMPLATES or the SMS fallback."
)
NOBODY_ON_DUTY = N_("Hotline warning: no observer is on duty right now.")
FLOOD_HELD = N_(
    "Hotline flood cap: report {ref} came from a number or web chat that sent more new reports than a real "
    "reporter does. It is on the console, not dispatched; release it there if it is real."
)
"""A held report alone in the coordinators' digest (reports.tell_held); in a flood they get counts."""
FOLLOW_UP = N_("An observer from the rapid-response network is on the way. Stay safe and keep your distance.")
NONE = N_("none")


def say(settings, lang: str, msgid: str, **values) -> str:
    """Translate one dispatch sentence into lang and fill it in."""
    return i18n.gettext(settings.locales_dir, lang, msgid, **values)


def kind_name(settings, lang: str, kind: str) -> str:
    """How an incident's kind reads in a text, in lang (`incidents.KIND_NAMES`)."""
    return say(settings, lang, incidents.KIND_NAMES.get(kind, incidents.KIND_NAMES["other"]))


def place(incident: dict, settings=None, lang: str = "en") -> str:
    """Where an incident is, as a text shows it: its label and coordinates (observers need the exact place).

    A pin's label is its coordinates already: they are not repeated. A ZIP or
    city point says it is only the area (with settings to translate that).
    """
    label = (incident.get("details") or {}).get("label") or ""
    if incident.get("lat") is None:
        return label or "?"
    coords = f"{incident['lat']:.5f},{incident['lon']:.5f}"
    shown = f"{label} ({coords})" if label and not _is_coordinates(label) else coords
    if settings is not None and incident.get("precision") in ("zip", "city"):
        return say(settings, lang, AREA_ONLY, place=label or coords)
    return shown


def _is_coordinates(label: str) -> bool:
    return all(part.strip().lstrip("-").replace(".", "", 1).isdigit() for part in label.split(",")) and "," in label


def map_link(incident: dict) -> str:
    """A maps link observers can tap (precise: observers need the exact place)."""
    if incident.get("lat") is None:
        return ""
    return f"https://maps.google.com/?q={incident['lat']:.5f},{incident['lon']:.5f}"
