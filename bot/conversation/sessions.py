"""A contact's live conversation in Redis: one hash per contact, with a TTL.

A session is small (the flow, the step, a step counter, the answers as JSON)
and lives only as long as the flow's idle expiry, so a reporter who went quiet
leaves nothing behind. Loading and saving are queued on a caller's pipeline so
`respond` costs one round trip each way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import redis

from .. import lua, store
from .model import Flow, Session

EXPIRE_GRACE_S = 300
"""Keep a session a little past its expiry so the expiry timer can still read it."""


def ttl_s(flow: Flow | None, default_ttl_s: int) -> int:
    """Return how long a session in `flow` lives idle: the flow's `expire`, else the hotline's default.

    A flow with an `on_expire` step keeps it EXPIRE_GRACE_S longer, so the expiry timer
    still finds it; the one rule for `respond` and the timers alike.
    """
    ttl = flow.expire_s if flow is not None and flow.expire_s else default_ttl_s
    return ttl + EXPIRE_GRACE_S if flow is not None and flow.on_expire else ttl


def queue_load(pipe, contact_id: str) -> None:
    """Queue reading a contact's session on a pipeline (its answer is the hash)."""
    pipe.hgetall(store.session_key(contact_id))


def from_hash(data: dict) -> Session | None:
    """Rebuild a session from its stored hash; None when there is none or it is unreadable."""
    if not data or not data.get("flow"):
        return None
    try:
        body = json.loads(data.get("data") or "{}")
        return Session(
            flow=data["flow"],
            version=data.get("version", ""),
            step=data.get("step", ""),
            counter=int(data.get("counter", 0)),
            tries=int(data.get("tries", 0)),
            lang=data.get("lang", "en"),
            answers=body.get("answers", {}),
            raw=body.get("raw", {}),
            stack=body.get("stack", []),
            clarify=body.get("clarify"),
            given=body.get("given", []),
            reminded=int(data.get("reminded", -1)),
            started_at=float(data.get("started_at", 0)),
            reply_to=data.get("reply_to") or None,
        )
    except (ValueError, TypeError, KeyError):  # a corrupt session: start over rather than fail the text
        return None


def to_hash(session: Session) -> dict[str, str]:
    """Flatten a session into hash fields."""
    body = {
        "answers": session.answers,
        "raw": session.raw,
        "stack": session.stack,
        "clarify": session.clarify,
        "given": session.given,
    }
    data = {
        "flow": session.flow,
        "version": session.version,
        "step": session.step,
        "counter": str(session.counter),
        "tries": str(session.tries),
        "lang": session.lang,
        "reminded": str(session.reminded),
        "started_at": str(session.started_at),
        "data": json.dumps(body, separators=(",", ":"), default=str),
    }
    if session.reply_to:
        data["reply_to"] = session.reply_to
    return data


@dataclass
class Receipt:
    """The once-only claim of the message a turn answers, written in the same step as the session.

    `key` is the router's claim (`store.message_key`); `silent` stores no replies
    (Twilio answered the text itself). Written with the session, a message is
    answered wholly or not at all: a crash between the two writes would leave the
    session advanced while the message looks unprocessed, and its replay would
    apply it a second time.
    """

    key: str
    ttl_s: int
    silent: bool = False
    written: str | None = field(default=None, compare=False)
    """The replies (JSON) the session's save wrote into the claim, once it did: the router need not again."""

    def body(self, replies) -> str:
        """The claim's value once answered: the replies as JSON (none when Twilio answered itself)."""
        return json.dumps([] if self.silent else list(replies))


def queue_save_if_unchanged(
    pipe, contact_id: str, session: Session, ttl_s: int, expected: str, receipt: Receipt | None = None, replies=()
) -> None:
    """Queue storing a session only if its counter is still `expected` ("" = none, "*" = any).

    Two texts sent in quick succession are answered concurrently; without this the
    second could write back the step the first had already left. The pipeline's
    first answer for this command is 1 when stored, 0 when another message won,
    and `[2, replies JSON]` when the receipt shows this message was answered already
    (a call resent after the answer to the first one was lost).
    """
    fields = [x for pair in to_hash(session).items() for x in pair] if session.active else []
    keys = [store.session_key(contact_id)]
    extra: dict = {}
    if receipt is not None:
        keys.append(receipt.key)
        extra = {"receipt": receipt.body(replies), "receipt_ttl_s": receipt.ttl_s}
    # `bot/lua/session_save.lua`; on a pipeline `lua.run` sends a plain EVAL (no SCRIPT EXISTS round trip).
    lua.run(pipe, "session_save", keys, expected=expected, ttl_s=int(ttl_s), fields=fields, **extra)


def queue_save(pipe, contact_id: str, session: Session, ttl_s: int) -> None:
    """Queue replacing the stored session (or deleting it when the conversation ended)."""
    key = store.session_key(contact_id)
    pipe.delete(key)
    if session.active:
        pipe.hset(key, mapping=to_hash(session))
        pipe.expire(key, ttl_s)


def load(r, contact_id: str) -> Session | None:
    """Read a contact's session (timers and tools; respond uses the pipelined form)."""
    return from_hash(r.hgetall(store.session_key(contact_id)))


def save_if_current(r, contact_id: str, session: Session, counter: int, ttl_s: int) -> bool:
    """Store a session only if nobody advanced it since `counter` was read (WATCH/MULTI)."""
    key = store.session_key(contact_id)
    with r.pipeline() as pipe:
        try:
            pipe.watch(key)
            if int(pipe.hget(key, "counter") or -1) != counter:
                return False
            pipe.multi()
            queue_save(pipe, contact_id, session, ttl_s)
            pipe.execute()
            return True
        except redis.WatchError:  # a text arrived meanwhile: that one wins
            return False
