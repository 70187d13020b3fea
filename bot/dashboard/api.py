"""The console's JSON API under `/dashboard/api/`: the board, one incident, actions, the roster, the queue.

Thin: parse, check the role, call `bot.dispatch.board` (reading) or
`bot.dispatch.lifecycle` (acting) with `by` = the coordinator's name, answer JSON.
Errors are JSON too: 400 for a bad action, 403 for a role that may not, 404 for
an unknown incident, 409 for a change the lifecycle does not allow; each is
`{"error", "code"}` with the message in the console's language (`refusals`).
"""

from __future__ import annotations

import time

from flask import jsonify, request, url_for
from flask_login import current_user

from .. import incidents, photos
from ..dispatch import board
from ..errors import NoSuchIncident
from . import bp, runtime
from .console import language
from .refusals import refuse, refuse_error  # noqa: F401  (refuse_error: for the other API modules)


def resolve(ref: str) -> str | None:
    """The incident id for a human ref or an id; None when neither names an incident."""
    return board.resolve(runtime().r, ref)


def lang() -> str:
    """The console's language for this request: the one its pages use (the switch's choice, else the browser's)."""
    return language()


@bp.get("/dashboard/api/incidents")
def api_incidents():
    return jsonify(board.board(runtime(), time.time()))


@bp.get("/dashboard/api/incidents/<ref>")
def api_incident(ref: str):
    incident_id = resolve(ref)
    if incident_id is None:
        return refuse(404, "no_such_incident")
    try:
        found = board.detail(runtime(), incident_id, time.time(), lang())
    except NoSuchIncident:
        return refuse(404, "no_such_incident")
    return jsonify({**found, "photos": _photos(incident_id)})


def _photos(incident_id: str) -> list[dict]:
    """Kept photos (HOTLINE_KEEP_PHOTOS) as links the console opens; opening one is audited, listing is not."""
    if not current_user.may("incidents"):
        return []
    return [
        {**p, "url": url_for("dashboard.photo", incident_id=incident_id, photo_id=p["id"])}
        for p in photos.listed(runtime().r, incident_id)
    ]


@bp.get("/dashboard/api/observers")
def api_observers():
    rt, near = runtime(), None
    if request.args.get("near"):
        incident_id = resolve(request.args["near"])
        if incident_id is None:
            return refuse(404, "no_such_incident")
        near = incidents.get(rt.r, incident_id)
    return jsonify(board.roster(rt, time.time(), near))


@bp.get("/dashboard/api/me")
def api_me():
    return jsonify(name=current_user.name, role=current_user.role)


from . import actions  # noqa: E402,F401  (POST routes)
