"""Who a message is for: once-only processing, observers' replies, everyone else's conversation.

The router does the I/O around the pure pieces: it claims each MessageSid once
in Redis before any side effect (Twilio may redeliver a webhook on a slow
connect), sends an observer's dispatch reply to `dispatch`, and everything else
to the conversation with the table of actions a flow may call.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import replace

import redis

from . import (
    actions,
    contacts,
    conversation,
    debrief,
    dispatch,
    errors,
    i18n,
    lua,
    observers,
    outbox,
    privacy,
    runtime,
    spool,
    store,
    twilio_retention,
    whatsapp_window,
)
from .channels import Inbound
from .channels import registry as channels
from .errors import SendError
from .i18n import N_

log = logging.getLogger(__name__)

MESSAGE_TTL_S = 24 * 3600
"""Remember a MessageSid for a day: Twilio redelivers within minutes, never days."""

PENDING = "\x00pending"
"""Claim marker (followed by the delivery's token) while the first delivery of a message is being processed."""

ACTIONS = actions.declared()
"""The `do:` actions flows may name, each declared next to its code (`@actions.action` in reports, alerts)."""

OUTAGE_REPLY = (
    "We got your message. Our system is slow right now; it will be handled shortly. "
    "/ Recibimos su mensaje. El sistema está lento; lo atenderemos pronto."
)
"""Bilingual, because without Redis we do not know the caller's language."""


def handle(rt, inbound: Inbound, now: float, actions: dict | None = None) -> list[str]:
    """Process one inbound message once and return the replies for it; never raises on a texter's words.

    Unicode digits are rewritten as ASCII here, the one place every channel's text
    passes. If Redis is unreachable (or refuses writes when out of memory) the
    message is sealed into the spool and the caller is told it will be handled;
    nothing is dropped. Anything else a library raises -- including a native
    panic, which is a BaseException -- is logged by type and place (no traceback:
    its locals and message may hold the text) and answered with an apology in
    the caller's language, so one message can never take down a web process.
    """
    inbound = replace(inbound, body=i18n.ascii_digits(inbound.body or ""))
    cid = privacy.contact_id(rt.settings.secret, inbound.address)
    try:
        if spool.files(rt.settings) and cid in spool.contacts(rt.settings):
            # Their earlier texts are still in the spool: this one queues behind them, so the
            # conversation sees them in the order they were sent (the replay thread runs soon).
            return _spool(rt, inbound, now, cid)
        replies = process(rt, inbound, now, ACTIONS if actions is None else actions)
    except spool.OUTAGE_ERRORS:
        return _spool(rt, inbound, now, cid)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: B036 -- native panics (pyo3 PanicException) are BaseExceptions
        log.error("inbound message failed: %s", errors.where(exc))
        return [_sorry(rt, inbound)]
    return replies


def _spool(rt, inbound: Inbound, now: float, cid: str) -> list[str]:
    """Keep the message on disk (fsynced) and only then say it was received."""
    try:
        spool.append(rt.settings, inbound, now, cid)
    except OSError:  # no disk either: claim nothing we cannot keep; Twilio redelivers on a 5xx
        log.error("redis and the spool are both unavailable")
        raise
    return [OUTAGE_REPLY]


def _sorry(rt, inbound: Inbound) -> str:
    """The apology for a message we could not handle, in the language we know for the caller."""
    settings = rt.settings
    lang = None
    try:
        cid = privacy.contact_id(settings.secret, inbound.address)
        lang = rt.r.hget(store.session_key(cid), "lang") or rt.r.hget(store.contact_key(cid), "lang")
    except Exception:  # noqa: BLE001 -- the apology must not fail too; guess from the words instead
        lang = None
    if lang not in settings.languages:
        lang = i18n.detect_language(inbound.body, inbound.profile_language or i18n.SOURCE_LANGUAGE)
    if lang not in settings.languages:
        lang = i18n.SOURCE_LANGUAGE
    return i18n.gettext(
        settings.locales_dir,
        lang,
        N_("Sorry, something went wrong. A person can help: {human_number}"),
        human_number=settings.human_number,
    )


def process(rt, inbound: Inbound, now: float, actions: dict | None = None) -> list[str]:
    """Claim the MessageSid, route the message, remember the replies; Redis errors propagate."""
    return _process(rt, inbound, now, ACTIONS if actions is None else actions)[1]


def _process(rt, inbound: Inbound, now: float, actions: dict, takeover: bool = False) -> tuple[bool, list[str]]:
    """`process`, also telling whether the replies are still owed to the texter (False: an earlier delivery had them).

    The claim holds a token of this delivery (PENDING + random) until the replies
    replace it, so only the delivery holding it releases it, and a call resent
    after a dropped connection finds its own token instead of mistaking itself
    for a redelivery in flight. The replies are written in the same Lua step as
    the session (`conversation.Receipt`): a Redis killed after saving the session
    but before answering leaves the message answered, not pending, and the replay
    texts those replies instead of running the text a second time on the next step.

    `takeover` is the replay's: the spooled delivery was answered only with
    OUTAGE_REPLY, so a claim still pending is taken over and run, and a claim that
    already holds replies (Redis stored them, then the connection failed) hands
    them back as owed, to be texted.
    """
    r = rt.r
    cid = privacy.contact_id(rt.settings.secret, inbound.address)
    key = store.message_key(inbound.message_sid)
    token = PENDING + uuid.uuid4().hex
    pipe = r.pipeline(transaction=False)
    pipe.set(key, token, nx=True, ex=MESSAGE_TTL_S)
    pipe.get(key)
    pipe.exists(store.observer_key(cid))
    loads = conversation.queue_load(pipe, cid)  # what the turn reads, on this round trip rather than its own
    twilio_retention.queue_schedule(pipe, rt.settings, inbound.message_sid, now, media=bool(inbound.media))  # too
    if channels.get(inbound.channel).session_window:  # WhatsApp: they wrote, so freeform texts reach them 24 h
        whatsapp_window.queue_note_inbound(pipe, cid, now)
    answers = pipe.execute()
    claimed, stored, is_observer = answers[:3]
    loaded = answers[3 : 3 + loads]
    if not claimed and stored != token:
        if not takeover:  # a redelivery: answer what the first delivery answered (nothing while it is in flight)
            return False, [] if stored is None or stored.startswith(PENDING) else json.loads(stored)
        if stored is not None and not stored.startswith(PENDING):
            return True, json.loads(stored)
        r.set(key, token, ex=MESSAGE_TTL_S)  # the failed delivery's claim: this replay runs it instead
    silent = _twilio_answers(rt, inbound)
    receipt = None
    try:
        replies = keyword_by_twilio(rt, cid, inbound, now) if inbound.opt_out_type else None
        if replies is not None:
            pass  # Twilio recognised an opt-out keyword of the account's own (OptOutType)
        elif is_observer:
            replies = dispatch.handle_reply(rt, cid, inbound.body, now)
        elif inbound.can_text_later:  # `JOIN CODE` enrolls a volunteer who can be texted; None otherwise
            replies = dispatch.handle_join(rt, inbound.address, inbound.body, now)
        if replies is None:
            if is_observer:
                _prefer_observer_language(rt, cid)
            receipt = conversation.Receipt(key, MESSAGE_TTL_S, silent=silent)
            fresh = None if is_observer else loaded  # an observer's preferred language was just written
            replies = conversation.respond(rt, cid, inbound, now, actions, receipt, fresh)
            if silent:
                replies = []  # the state changed above; Twilio already sent its answer
        if is_observer and inbound.can_text_later and not inbound.opt_out_type:
            # VERIFIED/UNFOUNDED/CLEAR (or a coordinator's close) owes them the debrief flow; it waits
            # until a report of their own in progress has ended.
            replies = replies + debrief.offer_if_due(rt, cid, inbound.address, now, actions)
    except BaseException:
        _release(r, key, token)  # let Twilio's redelivery (or the spool replay) run it again
        raise
    answer = json.dumps(replies)
    written = receipt is not None and receipt.written == answer  # the session's save wrote it already
    if not store.set_replicated(r, key, answer, MESSAGE_TTL_S, written=written):
        # Acknowledged means durable: no replica has it yet, so keep it on disk too (the replay texts its replies).
        raise redis.ConnectionError("no replica confirmed the write")
    return True, replies


TWILIO_DEFAULT_KEYWORDS = frozenset(
    ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke", "start", "unstop", "help", "info")
)
"""Words Twilio's default opt-out handling answers itself on a number without Advanced Opt-Out
(https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out: STOP, UNSUBSCRIBE, END, QUIT,
STOPALL, REVOKE, OPTOUT, CANCEL; START, UNSTOP; HELP, INFO)."""


def keyword_by_twilio(rt, cid: str, inbound: Inbound, now: float) -> list[str]:
    """Carry out a STOP/START/HELP Twilio recognised (OptOutType), whatever word the account uses.

    Twilio already answered it, so the hotline adds nothing unless
    HOTLINE_KEYWORD_REPLIES=hotline; then START and HELP get the hotline's own
    reply in the contact's language (a STOP reply would be blocked anyway).
    """
    kind = inbound.opt_out_type
    if kind == "STOP":
        contacts.opt_out(rt.r, cid)
        return []
    if kind == "START":
        contacts.opt_in(rt.r, cid)
    if rt.settings.keyword_replies != "hotline":
        return []
    word = "start" if kind == "START" else "help"
    return conversation.respond(rt, cid, replace(inbound, body=word, opt_out_type=None), now, ACTIONS)


def _twilio_answers(rt, inbound: Inbound) -> bool:
    """True when Twilio's default keyword handling (HOTLINE_KEYWORD_REPLIES=twilio) answered this text."""
    return rt.settings.keyword_replies == "twilio" and i18n.fold(inbound.body).strip() in TWILIO_DEFAULT_KEYWORDS


def _prefer_observer_language(rt, cid: str) -> None:
    """An observer who has not picked a language by text is answered in their roster language.

    Their START, HELP or question then reads in the language the coordinator recorded,
    not the one guessed from a single keyword.
    """
    if rt.r.hexists(store.contact_key(cid), "lang"):
        return
    observer = observers.get(rt.r, cid) or {}
    pipe = rt.r.pipeline(transaction=False)
    contacts.queue_set_language(pipe, cid, observers.language_of(observer))
    pipe.execute()


def _release(r, key: str, token: str) -> None:
    """Give up this delivery's claim, unless it already holds the replies (stored with the session)."""
    try:
        lua.run(r, "lease_release", [key], token=token)
    except redis.RedisError:  # nothing more we can do; the claim expires on its own
        log.warning("could not release a message claim")


def handle_status(rt, update, now: float) -> None:
    """Pass a Twilio status callback to dispatch, which owns outbound state.

    A Redis error propagates (a 5xx tells Twilio the callback was not recorded);
    a native panic on a hostile callback is logged by place and swallowed.
    """
    try:
        dispatch.record_status(rt, update, now)
    except (KeyboardInterrupt, SystemExit, redis.RedisError):
        raise
    except BaseException as exc:  # noqa: B036 -- as in handle(): one callback must not kill the process
        log.error("status callback failed: %s", errors.where(exc))


_replaying = threading.Lock()
"""One replay at a time in a process; across processes and machines the spool files' flocks decide."""

REPLAY_POLL_S = 0.5
"""How often each process looks for spool files: replay starts within this of Redis answering."""

REPLAY_BACKOFF_MAX_S = 5.0
"""Longest pause between replay attempts while Redis still refuses (down, or out of memory)."""


def start_replayer(rt) -> threading.Thread:
    """Start this process's replay thread (web processes and the worker each run one).

    It replays as soon as Redis answers -- nobody has to text first -- and ends
    when another Runtime becomes current (tests build many apps in one process).
    """
    thread = threading.Thread(target=_replay_forever, args=(rt,), daemon=True, name="spool-replay")
    thread.start()
    return thread


def _replay_forever(rt) -> None:
    delay = REPLAY_POLL_S
    stop = threading.Event()
    while True:
        stop.wait(delay)
        if not runtime.is_current(rt):  # asked after the wait: a replaced Runtime must not replay into its Redis
            return
        try:
            if not spool.files(rt.settings):
                delay = REPLAY_POLL_S
                continue
            runtime.supervise_embedded(rt)
            progressed = store.ping(rt.r) and replay_spool(rt) > 0
            left = spool.files(rt.settings)
            delay = REPLAY_POLL_S if progressed or not left else min(delay * 2, REPLAY_BACKOFF_MAX_S)
        except Exception as exc:  # noqa: BLE001 -- the thread must outlive any one bad round
            log.error("spool replay round failed: %s", errors.where(exc))
            delay = min(delay * 2, REPLAY_BACKOFF_MAX_S)


def replay_spool(rt) -> int:
    """Process every spooled message in arrival order and text its replies; return how many were replayed.

    A message an earlier attempt already processed is not texted again. If Redis
    fails again mid-way, the rest goes back to the spool, still in order.
    """
    with _replaying:
        held = spool.claim(rt.settings)
        if held is None:
            return 0
        try:
            for item in held.items:
                inbound = item.inbound
                try:
                    fresh, replies = _process(rt, inbound, item.received_at, ACTIONS, takeover=True)
                except spool.OUTAGE_ERRORS:
                    break
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:  # noqa: B036 -- as in handle(): answer, and go on with the rest
                    log.error("replayed message failed: %s", errors.where(exc))
                    fresh, replies = True, [_sorry(rt, inbound)]
                if fresh and inbound.can_text_later:  # a web chat page cannot be reached afterwards
                    for body in replies:
                        _send_quietly(rt, inbound.address, body)
                held.done += 1
        finally:
            held.finish(rt.settings)
        if held.done:
            log.warning("spool: replayed %d message(s)", held.done)
        return held.done


def _send_quietly(rt, address: str, body: str) -> None:
    try:
        outbox.send(rt, address, body, purpose="reply")
    except SendError as exc:  # the report itself is saved; a lost late reply is logged
        log.warning("could not text a replayed reply", exc_info=exc)
