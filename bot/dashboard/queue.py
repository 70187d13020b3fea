"""The coordinators' queue in the console: unplaced reports and call-back requests.

`GET /dashboard/api/queue` lists them (never a number); `take` claims one so
two coordinators never call the same person; `number` unseals a call-back's
number for the coordinator who took it (audited); `done` removes it.
"""

from __future__ import annotations

import time

from flask import jsonify
from flask_login import current_user

from .. import handoffs
from . import bp, runtime
from .api import refuse, refuse_error


def _allowed():
    return None if current_user.may("queue") else refuse(403, "role_queue")


@bp.get("/dashboard/api/queue")
def api_queue():
    return _allowed() or jsonify(handoffs.list_open(runtime().r, time.time()))


@bp.post("/dashboard/api/queue/<item_id>/take")
def api_queue_take(item_id: str):
    if denied := _allowed():
        return denied
    item = handoffs.take(runtime().r, item_id, current_user.name, time.time())
    if item is None:
        return refuse(404, "queue_gone")
    if item.get("taken_by") != current_user.name:
        return refuse(409, "queue_taken", item, name=item["taken_by"])
    return jsonify(item)


@bp.post("/dashboard/api/queue/<item_id>/number")
def api_queue_number(item_id: str):
    if denied := _allowed():
        return denied
    rt = runtime()
    try:
        return jsonify(number=handoffs.number(rt.r, rt.settings, item_id, current_user.name, time.time()))
    except handoffs.NotYours as exc:
        return refuse_error(exc, 403)


@bp.post("/dashboard/api/queue/<item_id>/done")
def api_queue_done(item_id: str):
    if denied := _allowed():
        return denied
    try:
        handoffs.done(runtime().r, item_id, current_user.name, time.time())
    except handoffs.NotYours as exc:
        return refuse_error(exc, 403)
    return jsonify(ok=True)
