"""When a caller is sent to text: the sighting flow's first question by SMS, and coordinators told.

The text is an RQ job (never a network call on the voice webhook) with the
dispatch queue's Retry; coordinators hear through their digest. The text starts the caller's conversation exactly as
their own first text would (`conversation.begin`), in the language they
chose on the phone, so their reply continues the flow. Job arguments carry a
call sid, never a number: the sealed number is read from the call's state.
"""

from __future__ import annotations

import logging
import time

import phonenumbers

from .. import conversation, i18n, outbox, privacy, router, runtime, store
from ..channels import Inbound
from ..dispatch import coordinators, digest
from ..errors import PermanentSend
from ..i18n import N_
from . import calls

log = logging.getLogger(__name__)

MISSED_TEXTED = N_(
    "Missed hotline call at {time} ({language}): no dispatcher picked up. "
    "The caller was texted the report questions; the board shows the call."
)
MISSED_NOT_TEXTED = N_(
    "Missed hotline call at {time} ({language}): no dispatcher picked up, and the phone "
    "cannot take texts. The board shows the call."
)
SIGHTING_FLOW = "sighting"
"""The flow a missed caller is texted into: the one a first text starts (flows/_globals.yaml's catch-all)."""

NOT_SMS = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.PAGER,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
)
"""Number types that never take an SMS (libphonenumber's metadata; a US number is usually
FIXED_LINE_OR_MOBILE and is tried, a refusal like 21614 is then logged)."""


def _parsed(e164: str | None, region: str):
    try:
        number = phonenumbers.parse(e164 or "", region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def is_number(e164: str | None, region: str) -> bool:
    """Tell whether a caller ID is a real phone number (not "anonymous", a withheld +266696687 or a SIP name)."""
    return _parsed(e164, region) is not None


def can_text(e164: str | None, region: str) -> bool:
    """Tell whether a caller's number could take an SMS (a withheld or landline number cannot)."""
    number = _parsed(e164, region)
    return number is not None and phonenumbers.number_type(number) not in NOT_SMS


def enqueue_text(rt, call_sid: str):
    """Queue texting the caller the sighting flow's first question."""
    return coordinators.enqueue(rt, text_caller, call_sid, description="voice: text a caller")


def tell_coordinators(rt, call_sid: str, lang: str, texted: bool, now: float) -> str:
    """Count the missed call for the coordinators' digest (the one place a missed call reaches them).

    One Lua call, safe on the voice webhook; alone in its minute it is told in
    full (time and language, never the number). Keyed by the call, so Twilio
    asking twice counts it once.
    """
    detail = i18n.gettext(
        rt.settings.locales_dir,
        "en",
        MISSED_TEXTED if texted else MISSED_NOT_TEXTED,
        time=i18n.local_time(rt.settings, now, "en"),
        language=i18n.language_name(lang),
    )
    return digest.note(rt, "missed_call", event=f"call:{call_sid}", detail=detail, now=now)


def text_caller(call_sid: str) -> str:
    """RQ job. Start the caller's conversation by text; return `sent`, `suppressed`, or why not."""
    rt = runtime.get()
    call = calls.get(rt.r, call_sid)
    e164 = calls.caller_number(rt.r, rt.settings.secret, call_sid) if call else None
    if call is None or not e164:
        return "gone"
    cid = privacy.contact_id(rt.settings.secret, e164)
    now = time.time()
    records = store.job_sends_key(f"call:{call_sid}")
    try:
        body = rt.r.hget(records, "body")
        if body is None:  # first attempt: open the conversation (a retry must not restart it)
            inbound = Inbound(channel="sms", address=e164, body="", message_sid=f"voice:{call_sid}")
            replies = conversation.begin(rt, cid, SIGHTING_FLOW, inbound, now, router.ACTIONS, call.get("lang", "en"))
            body = " ".join(replies or ())  # None: they are already in a conversation by text
            rt.r.hset(records, "body", body)  # the flow's own question, no caller's words
        if not body:
            return "suppressed"
        record = outbox.send_once(rt, records, "caller", e164, body, purpose="voice_text", now=now)
    except PermanentSend as exc:  # a landline or a refused number: the caller heard how else to report
        log.warning("could not text a caller (Twilio %s)", exc.code)
        return "refused"
    finally:
        rt.r.expire(records, calls.CALL_TTL_S)
    calls.update(rt.r, call_sid, time.time(), texted="1")
    return record["state"]
