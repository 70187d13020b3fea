"""The coordinators' queue: reports nothing could place and callers who asked for a call-back.

A coordinator *takes* an item before acting on it, so two coordinators never
call the same frightened person; everyone sees who took it. An unplaced report
shows the caller's own words (what they wrote for the place). A call-back's
number stays sealed: it is unsealed only for the coordinator who took it, on
request, and every unsealing is audited. Items expire with the raid's span
(`TTL_S`), like the sealed number a follow-up may use.
"""

from __future__ import annotations

import secrets

from . import audit, privacy, store

TTL_S = 12 * 3600
"""How long an item waits: one raid's span (the same as a reporter's sealed follow-up number)."""

KINDS = ("unplaced", "callback")

WORDS_MAX = 300
"""Characters of a caller's words kept with an unplaced report."""


class NotYours(PermissionError):
    """The item is not taken, or taken by someone else (`code` says which, for the console)."""

    def __init__(self, message: str, code: str = "not_yours"):
        super().__init__(message)
        self.code = code


def add(
    r,
    kind: str,
    now: float,
    *,
    ref: str = "",
    words: str = "",
    activity: str = "",
    language: str = "en",
    sealed: str = "",
    held: str = "",
) -> str:
    """Put one item on the queue; return its id (`held`: why it was not escalated, e.g. a flood cap)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    item_id = secrets.token_hex(4)
    fields = {
        "id": item_id,
        "kind": kind,
        "at": f"{now:.3f}",
        "ref": ref,
        "activity": activity,
        "language": language,
        "words": (words or "")[:WORDS_MAX],
        "sealed": sealed,
        "held": held,
    }
    pipe = r.pipeline(transaction=True)
    pipe.hset(store.handoff_key(item_id), mapping={k: v for k, v in fields.items() if v})
    pipe.expire(store.handoff_key(item_id), TTL_S)
    pipe.zadd(store.handoffs_key(), {item_id: now})
    pipe.zremrangebyscore(store.handoffs_key(), "-inf", now - TTL_S)
    pipe.execute()
    return item_id


def _public(item: dict) -> dict:
    shown = {k: v for k, v in item.items() if k != "sealed"}
    shown["at"] = float(item.get("at", 0))
    shown["has_number"] = bool(item.get("sealed"))
    return shown


def list_open(r, now: float) -> list[dict]:
    """The waiting items, oldest first, without any number."""
    ids = r.zrangebyscore(store.handoffs_key(), now - TTL_S, "+inf")
    pipe = r.pipeline(transaction=False)
    for item_id in ids:
        pipe.hgetall(store.handoff_key(item_id))
    return [_public(item) for item in pipe.execute() if item]


def take(r, item_id: str, by: str, now: float) -> dict | None:
    """Take an item for `by`; return it (with `taken_by`, who may be someone else), or None if it is gone."""
    key = store.handoff_key(item_id)
    pipe = r.pipeline(transaction=True)
    pipe.exists(key)
    pipe.hsetnx(key, "taken_by", by)
    pipe.hget(key, "taken_by")
    exists, won, holder = pipe.execute()
    if not exists:
        r.delete(key)  # HSETNX on a missing key created it: undo
        return None
    if won:
        r.hset(key, "taken_at", f"{now:.3f}")
        audit.record(r, "queue_taken", by, now, item=item_id)
    return _public(r.hgetall(key))


def number(r, settings, item_id: str, by: str, now: float) -> str:
    """Unseal a call-back's number for the coordinator who took it (audited); raise NotYours otherwise."""
    item = r.hgetall(store.handoff_key(item_id))
    if not item or item.get("taken_by") != by or not item.get("sealed"):
        raise NotYours("take this call-back first", "take_first")
    e164 = privacy.unseal(settings.secret, item["sealed"]) or ""
    audit.record(r, "callback_unsealed", by, now, item=item_id)
    return e164.removeprefix("whatsapp:")


def done(r, item_id: str, by: str, now: float) -> bool:
    """Finish an item (the call was made, the report placed by hand): it and any number go now."""
    item = r.hgetall(store.handoff_key(item_id))
    if not item or item.get("taken_by") not in (None, by):
        raise NotYours("someone else took this one", "taken_by_another")
    pipe = r.pipeline(transaction=True)
    pipe.delete(store.handoff_key(item_id))
    pipe.zrem(store.handoffs_key(), item_id)
    pipe.execute()
    audit.record(r, "queue_done", by, now, item=item_id)
    return True
