"""Twilio status callbacks for dispatch texts: delivered, or a slot to hand to someone else.

Callbacks arrive unordered and sometimes twice; a later `sent` must never
overwrite `delivered`, so each update is applied by rank in one Lua call. What
a failure does depends on its class (`channels/twilio_errors.py`):

- recipient (21211, 30006, ...): the observer is marked unreachable, coordinators told (in their digest);
  21610 (opted out) only records the opt-out, so a later START brings them back.
- transient (30003, 30008, 30036 expired, `canceled`): the slot moves on now; the
  observer stays on the roster and is asked again in the next wave, once
  (`drive.RETRY_PREFIX`: a handset that was off may be on by then).
- content (30007 filtered, 63016): the slot moves on; coordinators are warned (in their digest) once
  per incident, since every observer's copy will be refused the same way.
- sender (30002, 30032, 30034, ...): sending pauses (bot/sending.py) and the observer
  is put back as not yet texted, so the re-drive after the pause texts them again.

A callback for a sid the hotline never recorded (or forgot) gets a short TTL, so
stray callbacks cannot pile up in Redis.
"""

from __future__ import annotations

import logging
import time

from rq import get_current_job

from .. import alerts, incidents, lua, observers, outbox, runtime, store, twilio_retention
from ..channels.twilio import STATUS_ORDER
from ..channels.twilio_errors import CONTENT, OPTED_OUT, RECIPIENT, SENDER, TRANSIENT
from ..errors import NoSuchIncident
from . import digest, drive, escalation, plan, texts

log = logging.getLogger(__name__)

STRAY_TTL_S = 3600
"""A status callback for a sid we never sent is kept an hour (a redelivery within it is a no-op), then gone."""


def record_status(rt, update, now: float) -> str:
    """Apply one status callback; for a failed dispatch text, act on its error class (module docstring)."""
    r = rt.r
    key = store.outbound_key(update.message_sid)
    # By rank in one Lua call (`bot/lua/status_rank.lua`): a later `sent` never overwrites `delivered`.
    pipe = r.pipeline(transaction=False)
    lua.run(
        pipe,
        "status_rank",
        [key],
        status=update.status,
        rank=str(STATUS_ORDER.get(update.status, 0)),
        error_code=str(update.error_code or ""),
    )
    pipe.hget(key, "purpose")
    pipe.ttl(key)
    changed, purpose, ttl = pipe.execute()
    if purpose is None and ttl == -1:
        r.expire(key, STRAY_TTL_S)  # not ours (or long forgotten): do not keep it forever
    if not changed:
        return "unchanged"
    if purpose is not None and update.status in twilio_retention.SETTLED:
        twilio_retention.schedule(rt, update.message_sid)  # ours and settled: nothing more to learn there
    ref = r.hgetall(key)
    error = update.error
    if error is not None and error.kind == SENDER:
        outbox.on_sender_error(rt, update.error_code)
    if ref.get("purpose") == "alert" and error is not None and ref.get("broadcast_id"):
        # Accepted, then failed (63016 outside the WhatsApp window, a template error, a dead number):
        # it leaves the sent count, and a WhatsApp subscriber it cannot reach is flagged.
        alerts.record_failed(rt, ref["broadcast_id"], ref.get("contact_id", ""), update.error_code, was_sent=True)
        return update.status
    if ref.get("purpose") != "dispatch" or error is None:
        return update.status
    incident_id, observer_id = ref.get("incident_id", ""), ref.get("observer_id", "")
    if not incident_id or not observer_id:
        return update.status
    if error.kind == SENDER:
        keys = [store.incident_dispatch_key(incident_id), store.incident_sends_key(incident_id)]
        lua.run(r, "dispatch_forget", keys, observer=observer_id)
        return "paused"
    opted_out = update.error_code == OPTED_OUT
    permanent = error.kind == RECIPIENT and not opted_out
    new_state = plan.UNREACHABLE if error.kind == RECIPIENT else plan.UNDELIVERED
    moved = lua.run(
        r,
        "dispatch_move",
        [store.incident_dispatch_key(incident_id)],
        observer=observer_id,
        was=plan.TEXTED,
        to=new_state,
    )
    if not moved:
        return update.status  # they already answered, or the slot moved on
    observer = observers.get(r, observer_id) or {}
    incidents.add_event(
        r,
        incident_id,
        f"dispatch_{new_state}",
        now,
        observer=observer_id,
        name=observer.get("name", ""),
        code=update.error_code or "",
        reason=error.reason,
    )
    if opted_out:
        r.sadd(store.optout_key(), ref.get("contact_id") or observer_id)
    # coordinators hear through their digest (one Lua call: fine on the webhook's path), once while the mark stands
    if permanent and observers.mark_unreachable(r, observer_id, error.reason, now):
        escalation.unreachable(rt, incident_id, observer_id, observer.get("name", "?"), error.reason, now)
    if error.kind == CONTENT:
        try:
            escalation.content_refused(rt, incidents.get(r, incident_id), update.error_code, "dispatch")
        except NoSuchIncident:  # purged meanwhile: nobody to warn about
            pass
    if error.kind == TRANSIENT:  # once per incident: a second transient failure is not retried again
        r.hsetnx(store.incident_plan_key(incident_id), drive.RETRY_PREFIX + observer_id, drive.RETRY_DUE)
    drive.enqueue_refill(rt, incident_id)
    return new_state


def tell_coordinators_refused(incident_id: str, code) -> bool:
    """RQ job queued before the digest (its dotted path may still be in Redis): the warning goes to the digest."""
    rt = runtime.get()
    try:
        incident = incidents.get(rt.r, incident_id)
    except NoSuchIncident:  # purged meanwhile: nobody to warn about
        return False
    return escalation.content_refused(rt, incident, code, "dispatch")


def warn_alerts_undelivered(broadcast_id: str, code) -> str:
    """RQ job (`alerts.WARN_JOB`). Tell coordinators, once per broadcast, that WhatsApp alerts reach nobody.

    Outside WhatsApp's 24-hour window an alert needs an approved template
    (HOTLINE_WHATSAPP_TEMPLATES) or the SMS fallback; the incident's timeline
    records it too, so the console shows why its alert count is short. Through
    the coordinators' digest: a busy day's verified incidents each fail the same
    way until the template is set, and that is one text a minute, not one each.
    Returns what the digest did ("" when the incident is gone).
    """
    rt = runtime.get()
    meta = rt.r.hgetall(store.broadcast_key(broadcast_id))
    incident_id = meta.get("incident_id") or broadcast_id
    try:
        ref = incidents.get(rt.r, incident_id).get("ref", incident_id)
    except NoSuchIncident:  # purged meanwhile: nobody to warn about
        return ""
    incidents.add_event(rt.r, incident_id, "alert_undelivered", time.time(), code=code or "", reason="whatsapp")
    body = texts.say(rt.settings, "en", texts.ALERT_UNDELIVERED, ref=ref, code=code)
    return digest.note(rt, "alerts_undelivered", incident_id, event=f"alerts:{broadcast_id}", detail=body)


def tell_coordinators_unreachable(name: str, reason: str) -> str:
    """RQ job queued before the digest (its dotted path may still be in Redis): the warning goes to the digest,
    counted once under the job's retries (its id stands for the observer it does not name)."""
    rt = runtime.get()
    job = get_current_job()
    return escalation.unreachable(rt, "", job.id if job else name, name, reason)
