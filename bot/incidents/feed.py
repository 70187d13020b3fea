"""The incidents' change feed: one Redis stream entry (`id`, `kind`) for every change to any incident.

Written inside the same Lua scripts that make the change (merge, set_status,
add_event in `bot/lua/incident_*.lua`), so the feed can never miss a change or report one that
did not happen, and the webhook sends not one command more than before. Entries
name the incident and the kind of change only (`created`, `report`, `status`,
`dispatch_accepted`, ...): no reporter's words, no number, no place — a console
reads the incident itself through the authenticated API.

Readers keep a cursor (the stream id of the last entry they saw; over HTTP it is
the SSE `Last-Event-ID`) and ask for what came after it, so a reader that was
away for a minute gets every change it missed, and one that fell behind the
stream's cap is told to reload everything (`behind`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import redis

from .. import store

BATCH = 200
"""Most entries returned per read; a console that gets a full batch reads again at once."""

_CURSOR_RE = re.compile(r"^\d{1,20}-\d{1,20}$")


@dataclass(frozen=True)
class Change:
    """One feed entry: the stream id (the reader's next cursor), the incident and the kind of change."""

    cursor: str
    incident_id: str
    kind: str


def valid_cursor(cursor: str | None) -> bool:
    """Tell whether a client-sent cursor is a stream id (anything else starts from the current end)."""
    return bool(cursor) and bool(_CURSOR_RE.match(cursor))


def head(r: redis.Redis) -> str:
    """Return the cursor of the newest entry ("0-0" on an empty feed): where a new reader starts."""
    last = r.xrevrange(store.incident_feed_key(), count=1)
    return last[0][0] if last else "0-0"


def read(r: redis.Redis, cursor: str, count: int = BATCH) -> tuple[list[Change], bool]:
    """Return the changes after `cursor` (oldest first) and whether some were already trimmed away.

    One round trip: the first surviving entry and the range after the cursor are pipelined.
    """
    key = store.incident_feed_key()
    with r.pipeline(transaction=False) as pipe:
        pipe.xrange(key, count=1)
        pipe.xrange(key, min=f"({cursor}", count=count)
        first, entries = pipe.execute()
    # Older than the oldest kept entry: some changes may have been trimmed (or the data was reset).
    behind = bool(first) and cursor != "0-0" and _ids(cursor) < _ids(first[0][0])
    changes = [Change(entry_id, fields.get("id", ""), fields.get("kind", "")) for entry_id, fields in entries]
    return changes, behind


def _ids(stream_id: str) -> tuple[int, int]:
    millis, _, seq = stream_id.partition("-")
    return int(millis), int(seq or 0)
