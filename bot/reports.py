"""The flow actions that turn a finished conversation into work: a report, a call-back.

`submit` is the `report.submit` action: it folds the answers into an incident
(one atomic Redis call in `incidents`) and enqueues dispatch for a new one; the
slow parts (texting observers or coordinators) always run in RQ jobs.
"""

from __future__ import annotations

import logging

from . import dispatch, handoffs, i18n, incidents, photos, privacy, runtime, stats, store
from .actions import FIXED, ActionCall, action, read
from .channels import registry as channels
from .dispatch import coordinators, digest, lanes, lifecycle, texts, updates
from .geo import online as online_geocoder
from .incidents import caps

log = logging.getLogger(__name__)

DETAIL_FIELDS = (
    "activity",
    "started_at",
    "agents",
    "vehicles",
    "identifiers",
    "markings",
    "detained",
    "media",
    "safe",
    "callback",
)
"""Answers kept on the incident; anything else a flow saved stays in the session only."""

REPLY_TO_TTL_S = 12 * 3600
"""How long a reporter who asked for follow-up can be texted: one raid's span, then forgotten."""

ONLINE_TIMEOUT_S = 30
"""RQ timeout for an online geocoding job (the geocoder's own HTTP timeout is 5 s)."""


def _details(answers: dict) -> dict:
    return {k: answers[k] for k in DETAIL_FIELDS if answers.get(k) not in (None, "", [])}


DETAIL_READS = (
    read("started_at", "datetime"),
    read("agents", "number"),
    read("vehicles", "number"),
    read("identifiers", "choice"),
    read("markings", "text"),
    read("detained", "yes_no", "choice", FIXED),
    read("media", "media"),
    read("safe", "yes_no", "choice", FIXED),
    read("callback", "yes_no", "choice", FIXED),
)
"""The details both report actions read (DETAIL_FIELDS beyond the activity), with the types that may save them."""


@action(
    "report.submit",
    reads=(read("activity", "choice", required=True), read("where", "location", required=True), *DETAIL_READS),
    returns=("ref", "incident_id"),
)
def submit(rt, call: ActionCall) -> dict:
    """Fold a sighting report into an incident as soon as it has a place; enqueue dispatch if it is new.

    The flow runs this early (place + activity) and `update` after each later answer.
    """
    answers = call.answers
    where = answers.get("where") or {}
    details = _details(answers)
    if answers.get("callback") == "yes":
        _keep_reply_to(rt, call)
    if "lat" not in where:
        ref = f"U{rt.r.incr(store.incident_seq_key())}"
        # Counted here unless the geocoder may place it: then the merge counts the incident it opens.
        counted = "" if rt.settings.geocoder else ref
        if caps.check(rt.r, rt.settings, call.contact_id, call.channel, call.now, member=counted, client=call.client):
            # Over a flood cap: kept on the coordinators' queue, marked, but neither geocoded nor texted.
            _count_unplaced(rt, call.contact_id, details, call.now)
            _queue_unplaced(rt, ref, where.get("raw", ""), details, call.language, call.now, held=caps.HELD_REASON)
            tell_held(rt, ref, ref)
            return {"ref": ref, "incident_id": ""}  # the same calm answer as any report's
        if rt.settings.geocoder:
            # A network call: in an RQ job with a timeout, never on the webhook's path.
            coordinators.enqueue(
                rt,
                place_online,
                ref,
                where.get("raw", ""),
                call.contact_id,
                details,
                call.language,
                call.channel,
                call.now,
                call.client,
                job_timeout=ONLINE_TIMEOUT_S,
                description=f"place_online {ref}",
            )  # RQ logs descriptions: no words
        else:
            _count_unplaced(rt, call.contact_id, details, call.now)
            _queue_unplaced(rt, ref, where.get("raw", ""), details, call.language, call.now)
            _tell_unplaced(rt, ref, where.get("raw", ""), str(details.get("activity", "other")))
        log.info("report %s could not be placed offline", ref)
        return {"ref": ref, "incident_id": ""}
    merge = _merge(rt, call.contact_id, where, details, call.language, call.channel, call.now, call.client)
    return {"ref": merge.ref, "incident_id": merge.incident_id}


@action(
    "report.update",
    reads=(
        read("report", "report.submit", required=True),
        read("activity", "choice"),
        read("where", "location"),
        read("cross_streets", "location"),
        *DETAIL_READS,
    ),
    returns=("ref", "incident_id"),
)
def update(rt, call: ActionCall) -> dict:
    """The `report.update` action: fold the answers given since `report.submit` into its incident.

    Details and a sharper place (cross streets after a ZIP) go on the incident
    and its timeline in one atomic step; observers who already accepted get one
    batched update text (`dispatch.updates`), those still deciding read the
    details in their accept reply. A report nothing could place has no incident
    to update: coordinators already have the caller's words.
    """
    report = call.answers.get("report") or {}
    incident_id = str(report.get("incident_id") or "")
    if not incident_id:
        return dict(report)
    places = [p for p in (call.answers.get("cross_streets"), call.answers.get("where")) if isinstance(p, dict)]
    place = next((p for p in places if "lat" in p), None)  # cross streets asked after a ZIP come first
    details = _details(call.answers)
    changed = incidents.update_report(rt.r, incident_id, details, place, call.now)
    photos.enqueue_keep(rt, incident_id, details.get("media"))
    if changed:
        updates.enqueue(rt, incident_id, call.now)
    return dict(report)


def _merge(rt, contact_id: str, where: dict, details: dict, language: str, channel: str, now: float, client: str = ""):
    """Fold a located report into an incident and enqueue dispatch for a new one (`client`: a web chat's, caps)."""
    report = incidents.Report(
        contact_id=contact_id,
        lat=float(where["lat"]),
        lon=float(where["lon"]),
        precision_m=int(where.get("precision_m") or 0),
        kind=str(details.get("activity", "other")),
        details={**details, "label": where.get("label", ""), "precision": where.get("precision", "")},
        language=language,
        channel=channel,
        client=client,
    )
    merge = incidents.merge_report(rt.r, report, rt.settings, now)
    photos.enqueue_keep(rt, merge.incident_id, details.get("media"))
    if merge.should_dispatch:  # a new incident, or a held one this report released
        # a contact's first new incident this hour in a quiet place goes first; its later ones, and a crowded
        # place's, queue behind every such first one (bot/dispatch/lanes.py)
        dispatch.enqueue_start(rt, merge.incident_id, lane=lanes.for_merge(merge), why=lanes.why_for(merge))
    if merge.unusual:  # once per incident: coordinators in the digest, observers already texted told it is unconfirmed
        digest.note(rt, "unusual", merge.incident_id, event=f"unusual:{merge.incident_id}")
        lane = lanes.of_many(rt.r, [merge.incident_id])[0]  # a trap's notices must not queue before genuine reports
        rt.queue(lane).enqueue(
            lifecycle.notify_observers, merge.incident_id, "unusual", job_timeout=lifecycle.NOTIFY_TIMEOUT_S
        )
    if merge.held:
        tell_held(rt, merge.incident_id, merge.ref)
    return merge


def tell_held(rt, incident_id: str, ref: str) -> str:
    """The one place coordinators are told a report is held by a flood cap: counted in their digest.

    Alone in its minute it is told in full; in a flood, "37 held reports" once a minute, the console
    listing each. No number, no words: the ref (`incident_id` is an unplaced report's own ref, `U12`).
    """
    detail = texts.say(rt.settings, "en", texts.FLOOD_HELD, ref=ref)
    return digest.note(rt, "held", incident_id, event=f"held:{ref}", detail=detail)


def place_online(
    ref: str, raw_place: str, contact_id: str, details: dict, language: str, channel: str, now: float, client: str = ""
) -> str:
    """RQ job. Try the operator's online geocoder; dispatch if it places the report, else tell coordinators.

    `client` (a web chat's keyed client hash) came last, with a default: jobs queued before it still run."""
    rt = runtime.get()
    found = online_geocoder.geocode(rt.r, raw_place, rt.settings.geocoder, bounds=rt.settings.bounds)
    if found is None:
        _count_unplaced(rt, contact_id, details, now)
        _queue_unplaced(rt, ref, raw_place, details, language, now)
        _tell_unplaced(rt, ref, raw_place, str(details.get("activity", "other")))
        return ""
    merge = _merge(rt, contact_id, found.as_dict(), details, language, channel, now, client)
    incidents.add_event(rt.r, merge.incident_id, "placed_online", now, report_ref=ref, label=found.label)
    return merge.incident_id


def _count_unplaced(rt, contact_id: str, details: dict, now: float) -> None:
    """Count a report nothing could place (a placed one is counted when it merges into an incident)."""
    kind = str(details.get("activity", "other"))
    kind = kind if kind in incidents.KINDS else "other"
    stats.record_report(rt.r, rt.settings, contact_id=contact_id, kind=kind, now=now)


def _queue_unplaced(rt, ref: str, raw_place: str, details: dict, language: str, now: float, held: str = "") -> None:
    """Put a report nothing could place on the coordinators' queue, with the caller's words (and why it is held)."""
    handoffs.add(
        rt.r,
        "unplaced",
        now,
        ref=ref,
        words=raw_place,
        activity=str(details.get("activity", "other")),
        language=language,
        held=held,
    )


def _keep_reply_to(rt, call) -> None:
    """Seal the reporter's number for follow-up ("an observer is on the way"), with a TTL.

    The only reporter number kept past the conversation, and only when they asked.
    """
    if channels.can_text_later(call.channel):
        rt.r.set(store.reply_to_key(call.contact_id), privacy.seal(rt.settings.secret, call.e164), ex=REPLY_TO_TTL_S)


@action("handoff.callback", returns=("ok",))
def request_callback(rt, call: ActionCall) -> dict:
    """Ask coordinators to call this person back (the `handoff.callback` action).

    Returns `status`: `queued` (a coordinator is being texted the sealed number),
    `need_number` (a web chat visitor: nobody can call a web page, so the flow
    asks for a number) or `no_coordinator` (nobody to tell: the flow must show
    the human number instead of promising a call). Someone who asks for a call
    by text also hears when an observer is on the way.
    """
    if not rt.settings.coordinators:
        return {"status": "no_coordinator"}
    if not channels.can_text_later(call.channel):
        # Nobody can call a web chat page back: the flow asks for a number (sealed like any other).
        sealed = (call.answers.get("callback_number") or {}).get("sealed")
        if not sealed:
            return {"status": "need_number"}
    else:
        _keep_reply_to(rt, call)
        sealed = privacy.seal(rt.settings.secret, call.e164)
    handoffs.add(rt.r, "callback", call.now, sealed=sealed, language=call.language)
    _tell_callback(rt, sealed, call.language)
    return {"status": "queued"}


def _tell_unplaced(rt, ref: str, raw_place: str, activity: str) -> str:
    """Count a report no locator could place for the coordinators' digest; alone in it, it is told with the words."""
    detail = i18n.gettext(
        rt.settings.locales_dir,
        "en",
        "Hotline report {ref} ({activity}) could not be placed on the map. "
        'The caller wrote: "{place}". Please check and dispatch by hand.',
        ref=ref,
        activity=activity,
        place=raw_place[:200],
    )
    return digest.note(rt, "unplaced", ref, detail=detail)


def _tell_callback(rt, sealed: str, language: str) -> str:
    """Count a call-back request for the coordinators' digest; alone in it, it is told with the number."""
    detail = i18n.gettext(
        rt.settings.locales_dir,
        "en",
        "A hotline caller asked for a call-back ({language}): {number}",
        language=language,
        number=digest.NUMBER_SLOT,
    )
    return digest.note(rt, "callback", detail=detail, sealed=sealed)


def escalate_unplaced(ref: str, raw_place: str, activity: str) -> str:
    """RQ job queued before the digest (its dotted path may still be in Redis): the report goes to the digest."""
    return _tell_unplaced(runtime.get(), ref, raw_place, activity)


def text_coordinators_callback(sealed: str, language: str) -> str:
    """RQ job queued before the digest (its dotted path may still be in Redis): the request goes to the digest."""
    return _tell_callback(runtime.get(), sealed, language)
