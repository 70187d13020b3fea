"""The console's JSON API under `/dashboard/api/`: the board, one incident, actions, the roster, the queue.

Thin: parse, check the role, call `bot.dispatch.board` (reading) or
`bot.dispatch.lifecycle` (acting) with `by` = the coordinator's name, answer JSON.
Errors are JSON too: 400 for a bad action, 403 for a role that may not, 404 for
an unknown incident, 409 for a change the lifecycle does not allow.
"""

from __future__ import annotations

import time

from flask import jsonify, request, url_for
from flask_login import current_user

from .. import incidents, photos
from ..dispatch import board
from ..errors import NoSuchIncident
from . import bp, runtime


def resolve(ref: str) -> str | None:
    """The incident id for a human ref or an id; None when neither names an incident."""
    return board.resolve(runtime().r, ref)


def refuse(status: int, message: str):
    return jsonify(error=message), status


def lang() -> str:
    """The console's language for this request (English or Spanish, from the browser)."""
    return request.accept_languages.best_match(runtime().settings.languages) or "en"


@bp.get("/dashboard/api/incidents")
def api_incidents():
    return jsonify(board.board(runtime(), time.time()))


@bp.get("/dashboard/api/incidents/<ref>")
def api_incident(ref: str):
    incident_id = resolve(ref)
    if incident_id is None:
        return refuse(404, "no such incident")
    try:
        found = board.detail(runtime(), incident_id, time.time(), lang())
    except NoSuchIncident:
        return refuse(404, "no such incident")
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
            return refuse(404, "no such incident")
        near = incidents.get(rt.r, incident_id)
    return jsonify(board.roster(rt, time.time(), near))


@bp.get("/dashboard/api/me")
def api_me():
    return jsonify(name=current_user.name, role=current_user.role)


from . import actions  # noqa: E402,F401  (POST routes)
