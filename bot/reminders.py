"""The RQ job that texts a conversation's reminders and expiry messages.

The conversation package decides what a timer says (`conversation.timers.due`)
and never sends; this job, above it, sends. Its path `bot.reminders.fire` is
what queued timers name (`conversation.timers.TIMER_JOB`): renaming it would
orphan them.
"""

from __future__ import annotations

import logging

from . import outbox, runtime
from .conversation import timers
from .errors import PermanentSend

log = logging.getLogger(__name__)


def fire(contact_id: str, counter: int, kind: str, due_at: float) -> str:
    """RQ job. Send a step's reminder or run the flow's expiry, unless the session moved on."""
    rt = runtime.get()
    found = timers.due(rt, contact_id, counter, kind, due_at)
    if found.address:
        for body in found.bodies:
            try:
                outbox.send(rt, found.address, body, purpose="reminder")
            except PermanentSend as exc:  # opted out or unreachable: a reminder is not worth more
                log.info("reminder not delivered (code %s)", exc.code)
    return found.status
