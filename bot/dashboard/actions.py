"""The console's state-changing API: incident actions, the roster, the queue (CSRF-checked in `__init__`).

`POST /dashboard/api/incidents/REF/actions` with JSON `{"action": A, ...}`
runs one `bot.dispatch.lifecycle` action as the logged-in coordinator and
answers with the updated incident (200), or 400/403/404/409 with `error`.
"""

from __future__ import annotations

import time

from flask import jsonify, request
from flask_login import current_user

from .. import incidents
from ..dispatch import board, lifecycle, roster
from ..errors import NoSuchIncident
from . import bp, runtime
from .api import lang, refuse, resolve


def _body() -> dict | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _params(action: str, body: dict) -> dict | str:
    """Turn the console's JSON into lifecycle parameters, or an error message."""
    params = {k: body[k] for k in ("note", "text", "preview") if k in body}
    if action == "dispatch":
        names = body.get("observers")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            return "dispatch needs `observers`: a list of observer names or ids"
        ids = []
        for name in names:
            observer_id = board.find_observer(runtime(), name)
            if observer_id is None:
                return f"no observer named {name!r} on the roster"
            ids.append(observer_id)
        params["observer_ids"] = ids
    if action == "merge":
        into = resolve(str(body.get("into") or ""))
        if into is None:
            return "merge needs `into`: the ref of the incident this one is part of"
        params["into_id"] = into
    if action == "note" and not str(body.get("text") or "").strip():
        return "a note needs `text`"
    return params


@bp.post("/dashboard/api/incidents/<ref>/actions")
def api_incident_action(ref: str):
    if not current_user.may("incidents"):
        return refuse(403, "your role may not act on incidents")
    incident_id = resolve(ref)
    if incident_id is None:
        return refuse(404, "no such incident")
    body = _body()
    action = body.get("action") if body else None
    if action not in lifecycle.ACTIONS:
        return refuse(400, f"`action` must be one of {', '.join(lifecycle.ACTIONS)}")
    params = _params(action, body)
    if isinstance(params, str):
        return refuse(400, params)
    rt = runtime()
    try:
        result = lifecycle.apply(rt, incident_id, action, current_user.name, params)
        incident = board.detail(rt, incident_id, time.time(), lang())
    except lifecycle.BadAction as exc:
        return refuse(400, str(exc))
    except incidents.BadTransition as exc:
        return refuse(409, str(exc))
    except NoSuchIncident:
        return refuse(404, "no such incident")
    return jsonify({**incident, "result": result})


@bp.post("/dashboard/api/observers/<who>/actions")
def api_observer_action(who: str):
    """Roster changes (admin): `{"action": "on"|"off"|"clear_unreachable"|"remove"}` for an observer by name or id."""
    if not current_user.may("roster"):
        return refuse(403, "only an admin may change the roster")
    rt = runtime()
    observer_id = board.find_observer(rt, who)
    if observer_id is None:
        return refuse(404, "no such observer")
    body = _body() or {}
    if body.get("action") not in roster.ACTIONS:
        return refuse(400, f"`action` must be one of {', '.join(roster.ACTIONS)}")
    try:
        result = roster.apply(rt, observer_id, body["action"], current_user.name, time.time())
    except lifecycle.BadAction as exc:
        return refuse(400, str(exc))
    return jsonify(result)
