"""What an observer's text means: accept, decline, duty on/off, and reports from the scene.

Replies are words people type on a phone in English or Spanish, with or without
the short code of a dispatch ("YES 48", "si", "1"). Claims are decided by one
Lua script, so the first `needed` accepts win even when they arrive in the same
millisecond; everything slow (telling others it is covered) goes to RQ.
"""

from __future__ import annotations

import logging
import re
import time

from .. import i18n, incidents, lua, observers, outbox, privacy, runtime, stats, store
from .. import text as text_rules
from ..errors import NoSuchIncident
from . import drive, lifecycle, texts, updates
from .plan import ACCEPTED, COVERED, DECLINED, JOB_TIMEOUT_S, SEND_RETRY, TEXTED, UNDELIVERED

log = logging.getLogger(__name__)

ACCEPT_WORDS = {"yes", "y", "si", "1", "ok", "voy", "acepto", "accept"}
DECLINE_WORDS = {"no", "n", "2", "decline", "nopuedo"}
ON_WORDS = {"on", "disponible", "available"}
OFF_WORDS = {"off", "nodisponible", "unavailable"}
ARRIVED_WORDS = {"arrived", "here", "llegue", "aqui", "onscene"}
VERIFIED_WORDS = {"verified", "verificado", "confirmado", "confirmed"}
UNFOUNDED_WORDS = {"unfounded", "falso", "falsa", "falsealarm", "falsaalarma", "infundado"}
CLEAR_WORDS = {"clear", "despejado", "terminado", "cleared"}
"""Command words, accent- and case-folded; two-word commands are matched with the space removed."""

AGENCIES = ("ice", "cbp", "hsi", "fbi", "dea", "police", "policia", "sheriff", "border patrol", "patrulla fronteriza")
"""Agencies an observer may name in a VERIFIED report."""

NOTE_MAX = 300
"""Characters of an observer's scene note kept on the timeline."""

_CODE_RE = re.compile(r"^\d{2,4}$")
_PLATES_RE = re.compile(r"(?:plates?|placas?)\s*[:#]?\s*([a-z0-9][a-z0-9 -]{1,15}[a-z0-9])", re.I)

# Accepts are decided by one Lua script (`bot/lua/dispatch_accept.lua`): Redis runs scripts one
# at a time, so simultaneous YES replies are ordered and only the first `needed` win.


def fold(text: str) -> str:
    """Fold as every matcher does (`bot/text.py`), then drop sentence punctuation ("yes!" is "yes")."""
    return " ".join(text_rules.fold(text).replace("!", " ").replace(".", " ").replace("?", " ").split())


def parse(text: str) -> tuple[str | None, str | None, str]:
    """Split an observer's text into (command, code, rest); command None when it is not one."""
    words = fold(text).split()
    if not words:
        return None, None, ""
    code = None
    if len(words) >= 2 and _CODE_RE.match(words[-1]) and not _CODE_RE.match(words[0]):
        code = words.pop()
    elif len(words) >= 2 and _CODE_RE.match(words[0]):
        code = words.pop(0)
    elif len(words) >= 2 and _CODE_RE.match(words[1]):
        code = words.pop(1)
    head, two = words[0], "".join(words[:2])
    rest = " ".join(words[1:])
    if two in OFF_WORDS or two in ("nopuedo",):
        return ("off" if two in OFF_WORDS else "decline"), code, " ".join(words[2:])
    if two in ARRIVED_WORDS or two in UNFOUNDED_WORDS:
        return ("arrived" if two in ARRIVED_WORDS else "unfounded"), code, " ".join(words[2:])
    for command, vocabulary in (
        ("accept", ACCEPT_WORDS),
        ("decline", DECLINE_WORDS),
        ("on", ON_WORDS),
        ("off", OFF_WORDS),
        ("arrived", ARRIVED_WORDS),
        ("verified", VERIFIED_WORDS),
        ("unfounded", UNFOUNDED_WORDS),
        ("clear", CLEAR_WORDS),
        ("join", observers.JOIN_WORDS),
    ):
        if head in vocabulary:
            if command in ("accept", "decline", "on", "off") and not all(w in vocabulary for w in words):
                return None, None, ""  # "yes I saw them" is a sentence, not a reply to a dispatch
            return command, code, rest
    return None, None, ""


def handle_reply(rt, observer_id: str, text: str, now: float) -> list[str] | None:
    """Act on an observer's text and return the replies; None when it is not a dispatch/duty command."""
    command, code, rest = parse(text)
    if command is None or command == "join":
        return None
    observer = observers.get(rt.r, observer_id)
    if observer is None:
        return None
    lang = observers.language_of(observer)
    if command in ("accept", "decline") and code is None and _is_conversation_answer(rt, observer_id):
        return None  # a bare yes/no/1/2 mid-conversation answers the flow, not a dispatch
    if command in ("on", "off"):
        return [_duty(rt, observer_id, command == "on", lang, now)]
    wanted = (
        (TEXTED, UNDELIVERED, DECLINED, COVERED)
        if command == "accept"
        else (TEXTED,)
        if command == "decline"
        else (ACCEPTED,)
    )
    found = _resolve(rt, observer_id, code, wanted, command, lang)
    if isinstance(found, str):
        return [found]
    incident_id, code = found
    if command == "accept":
        return accept(rt, incident_id, observer_id, code, lang, now)
    if command == "decline":
        return decline(rt, incident_id, observer_id, code, lang, now)
    return scene_update(rt, incident_id, observer_id, code, command, rest, lang, now)


DEBRIEF_FLOW = "debrief"
"""The observers' own flow (flows/debrief.yaml): a raid now outranks the record of the last one."""


def _is_conversation_answer(rt, observer_id: str) -> bool:
    """Tell whether a bare yes/no belongs to the conversation: a live session, or no dispatch open.

    During a debrief, a dispatch still waiting for this observer's answer takes
    the bare YES/NO/1/2 instead: a raid now outranks the record of the last one,
    and the debrief's question waits for their next text. A YES with a code
    ("YES 12") never reaches here: it is always the dispatch's.
    """
    pipe = rt.r.pipeline(transaction=False)
    pipe.hget(store.session_key(observer_id), "flow")
    pipe.hgetall(store.observer_open_key(observer_id))
    flow, open_map = pipe.execute()
    if not open_map:
        return True
    if flow != DEBRIEF_FLOW:
        return bool(flow)
    pipe = rt.r.pipeline(transaction=False)
    for incident_id in open_map.values():
        pipe.hget(store.incident_dispatch_key(incident_id), observer_id)
    return TEXTED not in pipe.execute()


def _dispatches(r, observer_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """An observer's dispatches as (open, current), code → incident id, in one round trip.

    A code means an incident only while that incident *still goes by that code*
    (`current`; a merged or reopened incident can be renumbered, and entries that
    no longer match are dropped), and a coded reply only while it is also open
    (`open`): a code kept from a closed incident, or one since given to another,
    never means another incident than the one texted with it. Codes are unique
    among open incidents (`plan.allocate_code`), so unique among any observer's
    open dispatches.
    """
    entries = r.hgetall(store.observer_open_key(observer_id))
    if not entries:
        return {}, {}
    pipe = r.pipeline(transaction=False)
    for incident_id in entries.values():
        pipe.hget(store.incident_key(incident_id), "status")
        pipe.hget(store.incident_plan_key(incident_id), "code")
    replies = pipe.execute()
    open_now, current = {}, {}
    for i, (code, incident_id) in enumerate(entries.items()):
        status, goes_by = replies[2 * i], replies[2 * i + 1]
        if status is None or goes_by not in (None, code):
            continue
        current[code] = incident_id
        if status in incidents.OPEN_STATUSES:
            open_now[code] = incident_id
    gone = [code for code in entries if code not in current]
    if gone:
        r.hdel(store.observer_open_key(observer_id), *gone)
    return open_now, current


def _resolve(rt, observer_id: str, code: str | None, wanted: tuple, command: str, lang: str):
    """Find which open dispatch a reply is about: by code, else the only one it can mean."""
    s = rt.settings
    open_now, open_map = _dispatches(rt.r, observer_id)
    if code is not None:
        if code in open_now:
            return open_now[code], code
        if code in open_map:  # a code kept from an incident that closed: it never means another one
            rt.r.hdel(store.observer_open_key(observer_id), code)
        if not open_now:
            return texts.say(s, lang, texts.NO_OPEN_CODE, code=code)
        return texts.say(s, lang, texts.UNKNOWN_CODE, code=code, codes=", ".join(sorted(open_now, key=int)))
    if not open_map:
        return texts.say(s, lang, texts.NO_OPEN)
    pipe = rt.r.pipeline(transaction=False)
    for _c, incident_id in open_map.items():
        pipe.hget(store.incident_dispatch_key(incident_id), observer_id)
    states = dict(zip(open_map, pipe.execute()))
    matching = [c for c in open_map if states[c] in wanted]
    if len(matching) == 1:
        return open_map[matching[0]], matching[0]
    if command == "accept" and not matching:
        accepted = [c for c in open_map if states[c] == ACCEPTED]
        if len(accepted) == 1:
            return open_map[accepted[0]], accepted[0]
    choices = matching or sorted(open_map)
    if len(choices) == 1:
        return open_map[choices[0]], choices[0]
    word = {"accept": "YES", "decline": "NO"}.get(command, command.upper())
    return texts.say(s, lang, texts.WHICH, word=word, codes=", ".join(sorted(choices)))


def claim(r, incident_id: str, observer_id: str) -> tuple[str, int]:
    """Atomically record an accept: ('won', n), ('full', n), ('already'|'closed'|'unknown', 0)."""
    outcome, n = lua.run(
        r,
        "dispatch_accept",
        [store.incident_dispatch_key(incident_id), store.incident_plan_key(incident_id)],
        observer=observer_id,
    )
    return str(outcome), int(n)


def accept(rt, incident_id: str, observer_id: str, code: str, lang: str, now: float) -> list[str]:
    """Record a YES and answer with the incident's details, or with "covered" when it is full."""
    s = rt.settings
    outcome, n = claim(rt.r, incident_id, observer_id)
    if outcome == "already":
        return [texts.say(s, lang, texts.ALREADY, code=code)]
    if outcome == "closed":
        rt.r.hdel(store.observer_open_key(observer_id), code)
        return [texts.say(s, lang, texts.CLOSED, code=code)]
    if outcome in ("full", "unknown"):
        rt.r.hdel(store.observer_open_key(observer_id), code)
        if outcome == "full":
            incidents.add_event(rt.r, incident_id, "dispatch_late_accept", now, observer=observer_id)
        return [texts.say(s, lang, texts.COVERED, code=code)]
    try:
        incident = incidents.get(rt.r, incident_id)
    except NoSuchIncident:
        return [texts.say(s, lang, texts.CLOSED, code=code)]
    plan = rt.r.hgetall(store.incident_plan_key(incident_id))
    needed = int(plan.get("needed") or 1)
    incidents.add_event(rt.r, incident_id, "dispatch_accepted", now, observer=observer_id, accepted=n, needed=needed)
    if n == 1:
        stats.record_dispatch(rt.r, s, incident, "first_accept", now)
    elif n == 2:  # the network's rule: never work alone
        stats.record_dispatch(rt.r, s, incident, "two_observers")
    queue = rt.queue("dispatch")
    if n == 1:
        queue.enqueue(follow_up_reporters, incident_id, retry=SEND_RETRY, job_timeout=JOB_TIMEOUT_S)
    if n >= needed:
        queue.enqueue(notify_covered, incident_id, False, observer_id, retry=SEND_RETRY, job_timeout=JOB_TIMEOUT_S)
    replies = [
        texts.say(
            s,
            lang,
            texts.ACCEPTED,
            code=code,
            place=texts.place(incident, s, lang),
            map=texts.map_link(incident),
            ref=incident["ref"],
            kind=texts.kind_name(s, lang, incident.get("kind", "other")),
            details=_details(s, lang, incident, observer_id, rt.r),
        )
    ]
    if n < needed:
        replies.append(texts.say(s, lang, texts.STILL_LOOKING))
    return replies


def _details(settings, lang: str, incident: dict, observer_id: str, r) -> str:
    """The report's details for an accept reply, in the observer's language and time zone."""
    observer = observers.get(r, observer_id) or {}
    line = updates.describe(settings, lang, incident, observer.get("timezone"))
    return f" ({line})" if line else ""


def decline(rt, incident_id: str, observer_id: str, code: str, lang: str, now: float) -> list[str]:
    """Record a NO and give the slot to the next observer at once."""
    changed = lua.run(
        rt.r, "dispatch_move", [store.incident_dispatch_key(incident_id)], observer=observer_id, to=DECLINED, was=TEXTED
    )
    rt.r.hdel(store.observer_open_key(observer_id), code)
    if changed:
        incidents.add_event(rt.r, incident_id, "dispatch_declined", now, observer=observer_id)
        drive.enqueue_refill(rt, incident_id)
    return [texts.say(rt.settings, lang, texts.DECLINED, code=code)]


def _duty(rt, observer_id: str, on: bool, lang: str, now: float) -> str:
    until = observers.set_duty(rt.r, observer_id, on, now)
    s = rt.settings
    if until:
        observer = observers.get(rt.r, observer_id) or {}
        when = i18n.local_time(s, until, lang, day=True, tz=observer.get("timezone") or s.timezone)
        return texts.say(s, lang, texts.DUTY_ON_UNTIL if on else texts.DUTY_OFF_UNTIL, until=when)
    return texts.say(s, lang, texts.DUTY_ON if on else texts.DUTY_OFF)


def scene_update(
    rt, incident_id: str, observer_id: str, code: str, command: str, rest: str, lang: str, now: float
) -> list[str]:
    """Record ARRIVED/VERIFIED/UNFOUNDED/CLEAR from an accepted observer on the incident."""
    s, r = rt.settings, rt.r
    if r.hget(store.incident_dispatch_key(incident_id), observer_id) != ACCEPTED:
        return [texts.say(s, lang, texts.ACCEPT_FIRST, code=code)]
    note = rest[:NOTE_MAX]
    try:
        if command == "arrived":
            incidents.add_event(r, incident_id, "observer_arrived", now, observer=observer_id)
            if r.hsetnx(store.incident_plan_key(incident_id), "first_arrival_at", repr(now)):
                stats.record_dispatch(r, s, incidents.get(r, incident_id), "first_arrival", now)
            return [texts.say(s, lang, texts.ARRIVED, code=code)]
        by = (observers.get(r, observer_id) or {}).get("name") or "observer"
        lifecycle.offer_debrief(r, observer_id, incident_id)  # the router starts it after this reply
        if command == "verified":
            facts = verification_facts(rest)
            incidents.add_event(r, incident_id, "observer_verified", now, observer=observer_id, **facts)
            reason = f"observer verified: {facts['agency'] or 'agency?'}"
            _lifecycle(lifecycle.verify, rt, incident_id, by, now, reason=reason)
            return [texts.say(s, lang, texts.VERIFIED, code=code)]
        if command == "unfounded":
            incidents.add_event(r, incident_id, "observer_unfounded", now, observer=observer_id, note=note)
            _lifecycle(lifecycle.unfounded, rt, incident_id, by, now, note=note, reason="observer found nothing")
            return [texts.say(s, lang, texts.UNFOUNDED, code=code)]
        incidents.add_event(r, incident_id, "observer_clear", now, observer=observer_id, note=note)
        _lifecycle(lifecycle.close, rt, incident_id, by, now, note=note, reason="observer reported clear", tell=False)
        r.hdel(store.observer_open_key(observer_id), code)
        return [texts.say(s, lang, texts.CLEARED, code=code)]
    except NoSuchIncident:
        r.hdel(store.observer_open_key(observer_id), code)
        return [texts.say(s, lang, texts.CLOSED, code=code)]


def _lifecycle(action, rt, incident_id: str, by: str, now: float, **kwargs) -> None:
    """Run a lifecycle action for an observer's scene report; a refused change leaves the report on the timeline."""
    try:
        action(rt, incident_id, by, now, **kwargs)
    except incidents.BadTransition:  # already there, or closed: the timeline still has the report
        log.info("%s refused for incident %s", action.__name__, incident_id)


def verification_facts(text: str) -> dict:
    """Pull agency, whether ID was shown, and plates out of a VERIFIED note."""
    folded = fold(text)
    agency = next((a for a in AGENCIES if re.search(rf"\b{a}\b", folded)), "")
    if re.search(r"\b(no id|no identification|sin (id|identificacion)|no mostr|refused id)", folded):
        id_shown = "no"
    elif re.search(r"\b(id shown|showed id|id yes|con (id|identificacion)|mostr\w* (id|identificacion))", folded):
        id_shown = "yes"
    else:
        id_shown = "unknown"
    plates = _PLATES_RE.search(text or "")
    return {
        "agency": agency,
        "id_shown": id_shown,
        "plates": plates.group(1).upper() if plates else "",
        "note": (text or "")[:NOTE_MAX],
    }


# ---- jobs the replies start ------------------------------------------------------
def notify_covered(incident_id: str, unfounded: bool = False, filled_by: str = "") -> int:
    """RQ job. Tell everyone still asked that the incident is covered (or stand down); return texts sent.

    The observers who accepted before `filled_by` hear that their partner is
    coming (never work alone).
    """
    rt = runtime.get()
    r, s = rt.r, rt.settings
    plan = r.hgetall(store.incident_plan_key(incident_id))
    code = plan.get("code", "")
    states = r.hgetall(store.incident_dispatch_key(incident_id))
    partners = [o for o, st in states.items() if st == ACCEPTED and filled_by and o != filled_by]
    targets = [o for o, st in states.items() if st == TEXTED or (unfounded and st == ACCEPTED)]
    sent = 0
    for observer_id, observer in zip(targets, observers.get_many(r, targets)):
        if observer is None:
            continue
        was = states[observer_id]
        if was == TEXTED:
            moved = lua.run(
                r,
                "dispatch_move",
                [store.incident_dispatch_key(incident_id)],
                observer=observer_id,
                to=COVERED,
                was=TEXTED,
            )
            if not moved:
                continue
        else:
            r.hdel(store.observer_open_key(observer_id), code)
        e164 = observers.number_of(s, observer)
        lang = observers.language_of(observer)
        msgid = texts.STAND_DOWN if unfounded else texts.COVERED
        if e164:
            record = outbox.send_once(
                rt,
                store.incident_sends_key(incident_id),
                f"covered:{observer_id}",
                e164,
                texts.say(s, lang, msgid, code=code),
                purpose="covered",
                now=time.time(),
                ref={"incident_id": incident_id, "observer_id": observer_id},
            )
            sent += bool(record.get("new")) and record["state"] == outbox.SENT
        if was == TEXTED:
            incidents.add_event(r, incident_id, "dispatch_covered", time.time(), observer=observer_id)
    for observer_id, observer in zip(partners, observers.get_many(r, partners)):
        e164 = observers.number_of(s, observer) if observer else None
        if e164:
            record = outbox.send_once(
                rt,
                store.incident_sends_key(incident_id),
                f"partner:{observer_id}",
                e164,
                texts.say(s, observers.language_of(observer), texts.PARTNER_FOUND, code=code),
                purpose="partner",
                now=time.time(),
                ref={"incident_id": incident_id},
            )
            sent += bool(record.get("new")) and record["state"] == outbox.SENT
    return sent


def follow_up_reporters(incident_id: str) -> int:
    """RQ job. Tell reporters who asked that an observer is on the way (never who or from where)."""
    rt = runtime.get()
    r, s = rt.r, rt.settings
    sent = 0
    for contact_id in r.smembers(store.incident_reporters_key(incident_id)):
        sealed = r.get(store.reply_to_key(contact_id))
        if not sealed:
            continue
        e164 = privacy.unseal(s.secret, sealed)
        if not e164:
            continue
        lang = (
            r.hget(store.contact_key(contact_id), "lang") or r.hget(store.incident_key(incident_id), "language") or "en"
        )
        record = outbox.send_once(
            rt,
            store.incident_sends_key(incident_id),
            f"followup:{contact_id}",
            e164,
            texts.say(s, lang, texts.FOLLOW_UP),
            purpose="followup",
            now=time.time(),
            ref={"incident_id": incident_id},
        )
        if record["state"] == outbox.SENT:
            sent += 1
    if sent:
        incidents.add_event(r, incident_id, "reporter_followed_up", time.time(), reporters=sent)
    return sent
