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
from dataclasses import replace

import redis

from . import alerts, conversation, dispatch, errors, i18n, outbox, privacy, reports, spool, store
from .channels import Inbound
from .errors import SendError
from .i18n import N_

log = logging.getLogger(__name__)

MESSAGE_TTL_S = 24 * 3600
"""Remember a MessageSid for a day: Twilio redelivers within minutes, never days."""

PENDING = "\x00pending"
"""Claim marker while the first delivery of a message is still being processed."""

ACTIONS = {
    "report.submit": reports.submit,
    "handoff.callback": reports.request_callback,
    "alerts.subscribe": alerts.subscribe,
    "alerts.unsubscribe": alerts.unsubscribe,
}
"""Implementations of the `do:` actions flows may name (conversation.KNOWN_ACTIONS)."""

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
    try:
        replies = process(rt, inbound, now, ACTIONS if actions is None else actions)
    except spool.OUTAGE_ERRORS:
        try:
            spool.append(rt.settings, inbound, now)
        except OSError:  # no disk either: say nothing we cannot keep; Twilio redelivers on 5xx
            log.error("redis and the spool are both unavailable")
            raise
        return [OUTAGE_REPLY]
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: B036 -- native panics (pyo3 PanicException) are BaseExceptions
        log.error("inbound message failed: %s", errors.where(exc))
        return [_sorry(rt, inbound)]
    if spool.path(rt.settings).exists():
        _replay_in_background(rt)
    return replies


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
    r = rt.r
    cid = privacy.contact_id(rt.settings.secret, inbound.address)
    key = store.message_key(inbound.message_sid)
    pipe = r.pipeline(transaction=False)
    pipe.set(key, PENDING, nx=True, ex=MESSAGE_TTL_S)
    pipe.get(key)
    pipe.exists(store.observer_key(cid))
    claimed, stored, is_observer = pipe.execute()
    if not claimed:
        # A redelivery: answer what the first delivery answered (nothing while it is in flight).
        return [] if stored in (None, PENDING) else json.loads(stored)
    try:
        replies = None
        if is_observer:
            replies = dispatch.handle_reply(rt, cid, inbound.body, now)
        elif inbound.can_text_later:  # `JOIN CODE` enrolls a volunteer who can be texted; None otherwise
            replies = dispatch.handle_join(rt, inbound.address, inbound.body, now)
        if replies is None:
            replies = conversation.respond(rt, cid, inbound, now, ACTIONS if actions is None else actions)
    except BaseException:
        _release(r, key)  # let Twilio's redelivery (or the spool replay) run it again
        raise
    r.set(key, json.dumps(replies), ex=MESSAGE_TTL_S)
    return replies


def _release(r, key: str) -> None:
    try:
        r.delete(key)
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


def _replay_in_background(rt) -> None:
    """Replay the spool off the request thread; the spool is on this machine's disk."""
    if _replaying.locked():
        return
    threading.Thread(target=replay_spool, args=(rt,), daemon=True).start()


def replay_spool(rt) -> int:
    """Process messages spooled during a Redis outage and text their replies.

    Returns how many were replayed; any left when Redis fails again are re-spooled.
    """
    with _replaying:
        items = spool.take(rt.settings)
        done = 0
        for index, (inbound, received_at) in enumerate(items):
            try:
                replies = process(rt, inbound, received_at)
            except redis.RedisError:
                for later, at in items[index:]:
                    spool.append(rt.settings, later, at)
                break
            if inbound.can_text_later:  # a web chat page cannot be reached afterwards
                for body in replies:
                    _send_quietly(rt, inbound.address, body)
            done += 1
        return done


def _send_quietly(rt, address: str, body: str) -> None:
    try:
        outbox.send(rt, address, body, purpose="reply")
    except SendError as exc:  # the report itself is saved; a lost late reply is logged
        log.warning("could not text a replayed reply: %s", type(exc).__name__)
