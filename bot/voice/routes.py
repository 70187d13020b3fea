"""`POST /twilio/voice` and the menu's own action URLs: thin views over `menu`, `calls` and `missed`.

Every route is signed like the messaging webhook (webhook.verify: 403 without
Twilio's signature) and answers TwiML; a form without a CallSid is a 400. No
choice is a dead end: a key nobody pressed, or a garbled one, repeats the
prompt once, then takes the sensible default (the caller's remembered
language; a person; every rights topic). Redis trouble never costs the caller
the menu: state is best effort here, and a lost state only means the board
misses a line.
"""

from __future__ import annotations

import logging
import re
import time

import redis
from flask import Blueprint, Response, current_app, request

from .. import contacts, privacy, store, twilio_retention, webhook
from ..errors import BadRequest
from . import calls, dispatchers, menu, missed

bp = Blueprint("voice", __name__)
log = logging.getLogger(__name__)

_CALL_SID_RE = re.compile(r"^CA[0-9a-fA-F]{32}$")
DIAL_OK = ("completed", "answered")
"""DialCallStatus values of a dial that reached someone (the call is then theirs if they pressed 1)."""


def _rt():
    return current_app.extensions["hotline"]


def _twiml(response) -> Response:
    return Response(str(response), mimetype="application/xml")


def _signed():
    """Verify the signature and return (runtime, settings)."""
    rt = _rt()
    webhook.verify(rt.settings.twilio_auth_token, rt.settings.public_url)
    return rt, rt.settings


def _call_sid(raw: str | None) -> str:
    sid = (raw or "").strip()
    if not _CALL_SID_RE.match(sid):
        raise BadRequest("a CallSid is required")
    return sid


def _lang(settings, raw: str | None) -> str:
    return raw if raw in settings.languages else settings.languages[0]


def _int(raw: str | None) -> int:
    return int(raw) if (raw or "").isdigit() and len(raw or "") < 3 else 0


def _pressed() -> tuple[str, str]:
    """The caller's key (first digit) and spoken words, both possibly empty."""
    digits = (request.form.get("Digits") or "").strip()[:4]
    return digits[:1], (request.form.get("SpeechResult") or "")[:200]


def _quietly(what: str, fn, *args, **kwargs):
    """Run a state change; a Redis error is logged, and the caller still gets the menu."""
    try:
        return fn(*args, **kwargs)
    except redis.RedisError as exc:
        log.warning("voice: could not %s: %s", what, type(exc).__name__)
        return None


@bp.post("/twilio/voice")
def incoming():
    """A call to the hotline's number: the bilingual language menu."""
    rt, settings = _signed()
    sid = _call_sid(request.form.get("CallSid"))
    caller = (request.form.get("From") or "").strip()[:32]
    if not caller:
        raise BadRequest("From is required")
    _quietly("record a call", calls.begin, rt.r, settings.secret, sid, caller, settings.languages[0], time.time())
    return _twiml(menu.language_menu(settings))


def _remembered(rt, cid: str) -> str | None:
    return _quietly("read a language", rt.r.hget, store.contact_key(cid), "lang")


@bp.post("/twilio/voice/language")
def language():
    """The caller's language: remembered for their number exactly as a text's ESPAÑOL is."""
    rt, settings = _signed()
    sid = _call_sid(request.form.get("CallSid"))
    attempt = _int(request.args.get("attempt"))
    digits, speech = _pressed()
    lang = menu.pick_language(settings, digits, speech)
    caller = (request.form.get("From") or "").strip()
    cid = privacy.contact_id(settings.secret, caller)
    known = missed.is_number(caller, settings.default_region)  # a withheld caller ID is nobody's preference
    if lang is None:
        if attempt < 1:
            return _twiml(menu.language_menu(settings, attempt=1))
        lang = _lang(settings, _remembered(rt, cid) if known else None)
    if known:
        _quietly("remember a language", _remember_language, rt, cid, lang)
    _quietly("update a call", calls.update, rt.r, sid, time.time(), lang=lang)
    return _twiml(menu.main_menu(settings, lang))


def _remember_language(rt, cid: str, lang: str) -> None:
    """As the `language` keyword does: the contact's preference, and a live conversation's language."""
    pipe = rt.r.pipeline(transaction=True)
    contacts.queue_set_language(pipe, cid, lang)
    pipe.execute()
    if rt.r.exists(store.session_key(cid)):
        rt.r.hset(store.session_key(cid), "lang", lang)


@bp.post("/twilio/voice/choice")
def choice():
    """1 a person now, 2 a text to report by text, 3 know-your-rights."""
    rt, settings = _signed()
    sid = _call_sid(request.form.get("CallSid"))
    lang = _lang(settings, request.args.get("lang"))
    attempt = _int(request.args.get("attempt"))
    digits, speech = _pressed()
    picked = menu.pick(digits, speech)
    if picked is None:
        if request.args.get("after") == "rights":
            return _twiml(menu.goodbye(settings, lang))  # they heard their rights and pressed nothing
        if attempt < 1:
            return _twiml(menu.main_menu(settings, lang, attempt=1, sorry=True))
        picked = "1"  # pressed nothing twice: a person is the safest default
    if picked == "1":
        return _twiml(_ring(rt, settings, sid, lang, (request.form.get("From") or "").strip()))
    if picked == "2":
        sent = _text_caller(rt, settings, sid, request.form.get("From"), "texted")
        return _twiml(menu.texted(settings, lang, sent))
    _quietly("update a call", calls.update, rt.r, sid, time.time(), state="rights")
    return _twiml(menu.rights_menu(settings, lang))


def _ring(rt, settings, sid: str, lang: str, caller: str):
    """Ring the dispatchers on shift (never the caller's own phone), or go straight to the no-answer path."""
    now = time.time()
    ringing = _quietly("find dispatchers", dispatchers.on_shift, rt.r, settings, now)
    if ringing is None:  # Redis is down: the escalation numbers still reach a person
        ringing = dispatchers.escalation_numbers(settings)
    ringing = [d for d in ringing if d.e164 != caller]
    if not ringing:
        return _missed(rt, settings, sid, lang)
    _quietly(
        "update a call", calls.update, rt.r, sid, now, state="ringing", dialed=[d.label for d in ringing], lang=lang
    )
    return menu.dial(settings, lang, sid, ringing)


def _text_caller(rt, settings, sid: str, caller: str | None, state: str) -> bool:
    """Queue the caller's text if their phone can take one; tell whether it was queued."""
    e164 = (caller or "").strip()
    cid = privacy.contact_id(settings.secret, e164) if e164 else ""
    able = missed.can_text(e164, settings.default_region) and not _quietly(
        "read an opt-out", contacts.is_opted_out, rt.r, cid
    )
    _quietly("update a call", calls.update, rt.r, sid, time.time(), state=state)
    if able and _quietly("queue a text", missed.enqueue_text, rt, sid) is None:
        return False
    return able


def _missed(rt, settings, sid: str, lang: str):
    """Nobody took the call: the caller hears so and is texted; coordinators told; the board shows it."""
    sent = _text_caller(
        rt, settings, sid, _quietly("read a call", calls.caller_number, rt.r, settings.secret, sid), "missed"
    )
    _quietly("tell coordinators", missed.tell_coordinators, rt, sid, lang, sent, time.time())
    return menu.missed(settings, lang, sent)


@bp.post("/twilio/voice/rights")
def rights():
    """Read the chosen rights topic from the rights flow (every topic after two empty tries)."""
    _rt_, settings = _signed()
    _call_sid(request.form.get("CallSid"))
    lang = _lang(settings, request.args.get("lang"))
    attempt = _int(request.args.get("attempt"))
    digits, speech = _pressed()
    topic = menu.pick_topic(settings, lang, digits, speech)
    if topic is None and attempt < 1:
        return _twiml(menu.rights_menu(settings, lang, attempt=1, sorry=True))
    return _twiml(menu.rights(settings, lang, topic))


# ---- the dial: screening, legs, outcome ----------------------------------------------
@bp.post("/twilio/voice/screen")
def screen():
    """A dispatcher's phone picked up (a person or a voicemail): ask for 1 before connecting."""
    rt, settings = _signed()
    sid = _call_sid(request.args.get("call"))
    call = _quietly("read a call", calls.get, rt.r, sid) or {}
    if call.get("taken_by"):
        return _twiml(menu.screen_result(settings, taken=False))
    return _twiml(menu.screen(settings, _lang(settings, request.args.get("lang")), sid, _int(request.args.get("d"))))


@bp.post("/twilio/voice/screened")
def screened():
    """The dispatcher's key: 1 takes the call (the first one wins), anything else hangs up their phone."""
    rt, settings = _signed()
    sid = _call_sid(request.args.get("call"))
    index = _int(request.args.get("d"))
    digits, _speech = _pressed()
    if digits != "1":
        return _twiml(menu.screen_result(settings, taken=False))
    call = _quietly("read a call", calls.get, rt.r, sid) or {}
    dialed = call.get("dialed") or []
    label = dialed[index] if index < len(dialed) else f"dispatcher {index + 1}"
    taken = _quietly("take a call", calls.take, rt.r, sid, label, time.time())
    return _twiml(menu.screen_result(settings, taken=taken is not False))


@bp.post("/twilio/voice/leg")
def leg():
    """Status callback of one dispatcher's phone: ringing, answered, completed, busy, no-answer, failed."""
    rt, settings = _signed()
    sid = _call_sid(request.args.get("call"))
    status = (request.form.get("CallStatus") or "").strip().lower()[:20]
    if not status:
        raise BadRequest("CallStatus is required")
    _quietly("record a leg", calls.set_leg, rt.r, sid, _int(request.args.get("d")), status, time.time())
    return _twiml(menu.VoiceResponse())


@bp.post("/twilio/voice/dialed")
def dialed():
    """The dial ended: a dispatcher who pressed 1 had the call; otherwise the no-answer path."""
    rt, settings = _signed()
    sid = _call_sid(request.args.get("call"))
    lang = _lang(settings, request.args.get("lang"))
    status = (request.form.get("DialCallStatus") or "").strip().lower()
    call = _quietly("read a call", calls.get, rt.r, sid) or {}
    if call.get("taken_by") and status in DIAL_OK:
        _quietly("update a call", calls.update, rt.r, sid, time.time(), dial_status=status)
        return _twiml(menu.goodbye(settings, lang))
    _quietly("update a call", calls.update, rt.r, sid, time.time(), dial_status=status or "unknown")
    return _twiml(_missed(rt, settings, sid, lang))


@bp.post("/twilio/voice/status")
def status():
    """The number's call status callback: a finished call is deleted at Twilio (HOTLINE_TWILIO_RETENTION)."""
    rt, settings = _signed()
    sid = _call_sid(request.form.get("CallSid"))
    state = (request.form.get("CallStatus") or "").strip().lower()
    if state in calls.FINISHED:
        _quietly("end a call", calls.finish, rt.r, sid, state, time.time())
        try:
            twilio_retention.schedule(rt, sid)
        except Exception:  # noqa: BLE001 -- a lost deletion must not fail Twilio's callback
            log.warning("could not queue the deletion of a call at Twilio")
    return _twiml(menu.VoiceResponse())
