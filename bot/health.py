"""`GET /healthz`: is this web process, its Redis and its queues usable?

Load balancers and the operator's uptime check read it; 503 means "do not send
traffic here" or "the network is not covered" (no observer on duty, worker or
scheduler heartbeat lapsed — reported by dispatch).
"""

from __future__ import annotations

import time

import redis
from flask import Blueprint, current_app

from . import spool, store

bp = Blueprint("health", __name__)


def check(rt, now: float) -> dict:
    """Gather health facts into one JSON-able dict with an overall `ok`."""
    report: dict = {"ok": True, "redis": store.ping(rt.r)}
    _spool(report, rt, now)
    if not report["redis"]:
        report["ok"] = False
        return report
    try:
        report["queues"] = {name: len(q) for name, q in rt.queues.items()}
    except redis.RedisError:  # Redis went away between the ping and here
        report.update(ok=False, queues=None)
    try:
        from . import dispatch
    except ModuleNotFoundError:  # dispatch not built: nothing more to say
        return report
    if hasattr(dispatch, "health"):
        report["dispatch"] = dispatch.health(rt, now)
        report["ok"] = report["ok"] and bool(report["dispatch"].get("ok", True))
    return report


def _spool(report: dict, rt, now: float) -> None:
    """Messages waiting in the outage spool; one waiting over a minute means replay is stuck."""
    state = spool.status(rt.settings, now)
    report["spooled"] = state["pending"]
    report["spool"] = state
    if state["pending"] and state["oldest_s"] > spool.STALE_AFTER_S:
        report["ok"] = False
        report.setdefault("problems", []).append("spool not draining")


@bp.get("/healthz")
def healthz():
    report = check(current_app.extensions["hotline"], time.time())
    return report, 200 if report["ok"] else 503
