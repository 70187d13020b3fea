"""WhatsApp's 24-hour window: who may get a freeform text, and the approved template for everyone else.

WhatsApp lets a business send freeform text only within 24 hours of the
contact's last message; later, only an approved template (`ContentSid` with
`ContentVariables`) goes through. A freeform body outside the window is
*accepted* by Twilio's API and then fails with 63016
(https://www.twilio.com/docs/api/errors/63016) — so without this module an
alert to a WhatsApp subscriber a day later would be counted as sent and reach
nobody.

What is kept: one key per WhatsApp contact, keyed by `contact_id` (never the
number), holding the time of their last inbound message and expiring 24 hours
after it — the key's life *is* the window, so nothing outlives its purpose.

Outside the window `outbox.send` asks `choose` what to send instead: the
template configured for this message kind and language
(HOTLINE_WHATSAPP_TEMPLATES, a YAML file; docs/dispatch.md), else the same
number by SMS when the network allows it (HOTLINE_WHATSAPP_SMS_FALLBACK), else
nothing: the send is refused as 63016 before Twilio is called, and the caller
records it as failed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from . import store
from .errors import ConfigError

log = logging.getLogger(__name__)

WINDOW_S = 24 * 3600
"""WhatsApp's customer service window: freeform messages up to 24 h after the contact's last one."""

MARGIN_S = 300
"""A text due within five minutes of the window closing goes as a template: Twilio's queue and
clock differ from ours, and a freeform text that lands a second late fails (63016)."""

CONTENT_SID_RE = re.compile(r"^HX[0-9a-fA-F]{32}$")
"""A Content API template sid (https://www.twilio.com/docs/content)."""

KINDS = ("alert", "followup", "reminder", "reply", "dispatch", "update", "covered", "partner", "escalation")
"""Message kinds a template can be configured for: the `purpose` every outbound text carries."""

VARIABLE_NAMES = ("body", "area", "kind", "ref", "code")
"""What a template's placeholders may be filled with. `body` is the text the hotline would have sent;
the others are given by the kinds that have them (an alert's area and incident kind, a dispatch code)."""


@dataclass(frozen=True)
class Template:
    """One approved template: its Content sid and which value fills each placeholder ("1" → "area")."""

    content_sid: str
    variables: tuple[tuple[str, str], ...] = ()

    def fill(self, values: dict) -> dict[str, str]:
        """ContentVariables for this send: each placeholder's value (missing ones empty)."""
        return {slot: str(values.get(name, "")) for slot, name in self.variables}


@dataclass(frozen=True)
class Choice:
    """What to send outside the window: a template, or the SMS address (`sms_address`), never both."""

    template: Template | None = None
    sms: bool = False


# ---- the window ------------------------------------------------------------------
def queue_note_inbound(pipe, contact_id: str, now: float) -> None:
    """Queue remembering a WhatsApp contact's message at `now` on a pipeline: opens the window until now + 24 h."""
    pipe.set(store.whatsapp_window_key(contact_id), f"{now:.0f}", exat=int(now + WINDOW_S))


def is_open(r, contact_id: str, now: float) -> bool:
    """Whether a freeform WhatsApp text to this contact is still inside the window (with MARGIN_S to spare)."""
    last = r.get(store.whatsapp_window_key(contact_id))
    if not last:
        return False
    try:
        return now + MARGIN_S < float(last) + WINDOW_S
    except ValueError:  # not what queue_note_inbound writes: treat as closed (a template is always safe)
        return False


# ---- templates ---------------------------------------------------------------------
def load_templates(path: str) -> dict[tuple[str, str], Template]:
    """Read HOTLINE_WHATSAPP_TEMPLATES (kind → language → content_sid, variables); ConfigError if malformed.

    Re-read when the file changes (its mtime is part of the cache key).
    """
    if not path:
        return {}
    file = Path(path)
    try:
        mtime = file.stat().st_mtime
    except OSError:
        raise ConfigError(f"HOTLINE_WHATSAPP_TEMPLATES names {path!r}, which cannot be read") from None
    return _load(str(file), mtime)


@lru_cache(maxsize=4)
def _load(path: str, _mtime: float) -> dict[tuple[str, str], Template]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"HOTLINE_WHATSAPP_TEMPLATES {path!r}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"HOTLINE_WHATSAPP_TEMPLATES {path!r}: expected kind: {{language: {{content_sid: ...}}}}")
    found: dict[tuple[str, str], Template] = {}
    for kind, languages in data.items():
        if kind not in KINDS:
            raise ConfigError(f"HOTLINE_WHATSAPP_TEMPLATES: unknown message kind {kind!r} (one of {', '.join(KINDS)})")
        if not isinstance(languages, dict):
            raise ConfigError(f"HOTLINE_WHATSAPP_TEMPLATES: {kind} must map languages to templates")
        for lang, entry in languages.items():
            found[(kind, str(lang))] = _template(kind, str(lang), entry)
    return found


def _template(kind: str, lang: str, entry) -> Template:
    where = f"HOTLINE_WHATSAPP_TEMPLATES {kind}.{lang}"
    if not isinstance(entry, dict) or not CONTENT_SID_RE.match(str(entry.get("content_sid", ""))):
        raise ConfigError(f"{where}: content_sid must be a Content template sid (HX + 32 hex digits)")
    variables = entry.get("variables") or {}
    if not isinstance(variables, dict):
        raise ConfigError(f"{where}: variables must map placeholders to names")
    for slot, name in variables.items():
        if not str(slot).isdigit() or name not in VARIABLE_NAMES:
            raise ConfigError(f"{where}: variable {slot!r}: {name!r} must be one of {', '.join(VARIABLE_NAMES)}")
    return Template(str(entry["content_sid"]), tuple((str(k), str(v)) for k, v in sorted(variables.items())))


def choose(settings, purpose: str, language: str | None) -> Choice:
    """What goes out instead of a freeform text outside the window (a template, SMS, or nothing).

    A template in the contact's language first, else the network's source
    language's (English): an approved template in the wrong language still
    arrives, a freeform text does not.
    """
    try:
        templates = load_templates(settings.whatsapp_templates)
    except ConfigError as exc:  # a broken file must not stop a broadcast: `hotline flows check` names the fault
        log.error("WhatsApp templates not used: %s", exc)
        templates = {}
    for lang in dict.fromkeys((language or "en", "en")):
        template = templates.get((purpose, lang))
        if template is not None:
            return Choice(template=template)
    return Choice(sms=bool(settings.whatsapp_sms_fallback))
