"""`GET /dashboard/events`: the console's live updates as server-sent events, fed from the incidents' change feed.

Why every response is short: gunicorn's gthread workers (the Procfile's
`--workers 3 --threads 2`) give each open response a thread for as long as it
stays open. A classic SSE stream held open per dashboard would take all six
threads with six open consoles, and Twilio's webhooks would queue behind them
in the middle of a raid. So each response sends what changed since the
client's cursor and ends at once, with `retry:` telling the browser's
EventSource to come back in RETRY_MS. The cursor is the stream id of the last
change the console saw, which EventSource sends back by itself as
`Last-Event-ID`: nothing is missed between two responses, and no thread ever
waits. One reconnect costs one pipelined Redis read, about a millisecond of a
worker; `bench/dashboard.py` measures the webhook with 50 consoles open (README).

Events: `ready` (first connection: here is your cursor), `incident` (data:
`{"id", "ref", "kind"}` — which incident changed and how, never what was
said), `reload` (the console was away longer than the feed keeps: fetch
everything again).
"""

from __future__ import annotations

import json

from flask import current_app, request

from ..incidents import feed, ref_for
from . import bp, runtime

RETRY_MS = 800
"""Browser reconnects this long after each response: a change shows within about a second,
and 50 open consoles cost ~60 short requests a second in all (see bench/dashboard.py)."""


def _event(name: str, cursor: str, data: dict) -> str:
    return f"id: {cursor}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def render(r, cursor: str | None) -> str:
    """Return the event-stream body for a client at `cursor` (None or junk: a new client)."""
    head = f"retry: {RETRY_MS}\n\n"
    if not feed.valid_cursor(cursor):
        return head + _event("ready", feed.head(r), {})
    changes, behind = feed.read(r, cursor)
    if behind:
        return head + _event("reload", feed.head(r), {})
    if not changes:
        return head + ": nothing new\n\n"  # a comment: the cursor the browser holds stays as it is
    return head + "".join(
        _event("incident", c.cursor, {"id": c.incident_id, "ref": ref_for(c.incident_id), "kind": c.kind})
        for c in changes
    )


@bp.get("/dashboard/events")
def events():
    cursor = request.headers.get("Last-Event-ID") or request.args.get("cursor")
    response = current_app.response_class(render(runtime().r, cursor), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # a proxy must not sit on the events
    return response
