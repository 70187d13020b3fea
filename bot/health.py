"""`GET /healthz`: is this web process, its Redis and its queues usable -- and is the hotline's data still there?

Load balancers and the operator's uptime check read it; 503 means "do not send
traffic here" or "the network is not covered". The public gets `{"ok": ...}`
only; the details (what is wrong, queue sizes, the spool) are for operators who
send `HOTLINE_HEALTH_TOKEN` as the `X-Health-Token` header or `?token=`.

Unhealthy when: Redis does not answer; Redis came back empty (the marker is
gone: roster, opt-outs and blocks lost); Redis memory is near `maxmemory` or
Redis may evict our keys; the outage spool is not draining; dispatch jobs
failed in the last minutes; or dispatch reports a problem (nobody on duty,
worker or scheduler stopped, dispatch overdue).
"""

from __future__ import annotations

import hmac
import time

import redis
from flask import Blueprint, current_app, request
from rq.registry import FailedJobRegistry

from . import spool, store, twilio_retention

bp = Blueprint("health", __name__)

MEMORY_NEAR = 0.9
"""Share of `maxmemory` in use at which health warns: writes fail (and spool) at 100%."""

FAILED_WINDOW_S = 15 * 60
"""Dispatch jobs that failed this recently make health unhealthy (RQ keeps failures longer)."""

FAILED_LOOKED_AT = 50
"""Most recent failed dispatch jobs health reads (a bounded cost on every poll)."""


def check(rt, now: float) -> dict:
    """Gather health facts into one JSON-able dict with an overall `ok` and a list of `problems`."""
    report: dict = {"ok": True, "redis": store.ping(rt.r), "problems": []}
    _spool(report, rt, now)
    if not report["redis"]:
        report["problems"].append("redis unreachable")
        return _done(report)
    try:
        _memory(report, rt)
        report["queues"] = {name: len(q) for name, q in rt.queues.items()}
        report["twilio_deletions_waiting"] = twilio_retention.waiting(rt.r)  # not yet RQ jobs: not in `queues`
        _data(report, rt)
        _failing(report, rt, now)
    except redis.exceptions.OutOfMemoryError:
        report["problems"].append("redis out of memory: writes refused (messages are spooled)")
        return _done(report)
    except redis.RedisError:  # Redis went away between the ping and here
        report["problems"].append("redis unreachable")
        return _done(report)
    try:
        from . import dispatch
    except ModuleNotFoundError:  # dispatch not built: nothing more to say
        return _done(report)
    if hasattr(dispatch, "health"):
        report["dispatch"] = dispatch.health(rt, now)
        report["problems"] += report["dispatch"].get("problems", [])
        report["ok"] = report["ok"] and bool(report["dispatch"].get("ok", True))
    return _done(report)


def _done(report: dict) -> dict:
    report["ok"] = report["ok"] and not report["problems"]
    return report


def _spool(report: dict, rt, now: float) -> None:
    """Messages waiting in the outage spool; one waiting over a minute means replay is stuck."""
    state = spool.status(rt.settings, now)
    report["spooled"] = state["pending"]
    report["spool"] = state
    if state["pending"] and state["oldest_s"] > spool.STALE_AFTER_S:
        report["problems"].append("spool not draining")


def _data(report: dict, rt) -> None:
    """The empty-Redis marker: gone means Redis restarted without its data."""
    report["data"] = store.ensure_marker(rt.r, rt.settings.data_dir)
    if not report["data"]:
        report["problems"].append("redis came back empty: roster, opt-outs and blocks are gone")


def _memory(report: dict, rt) -> None:
    """Redis memory against maxmemory, and whether Redis may evict the roster to make room."""
    info = rt.r.info("memory")
    used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    policy = info.get("maxmemory_policy", "noeviction")
    report["memory"] = {"used": used, "max": limit, "policy": policy}
    if limit and used >= MEMORY_NEAR * limit:
        report["problems"].append("redis memory near maxmemory")
    if limit and policy != "noeviction":
        report["problems"].append(f"redis may evict hotline data (maxmemory-policy {policy}; use noeviction)")


def _failing(report: dict, rt, now: float) -> None:
    """Dispatch-queue jobs (texts to observers and coordinators) that failed in the last minutes."""
    registry = FailedJobRegistry(queue=rt.queue("dispatch"))
    ids = registry.get_job_ids(0, FAILED_LOOKED_AT - 1, desc=True, cleanup=False)  # health only reads
    recent = 0
    for job in rt.queue("dispatch").job_class.fetch_many(ids, connection=rt.r_raw):
        ended = job.ended_at if job else None
        if ended is not None and now - ended.timestamp() < FAILED_WINDOW_S:
            recent += 1
    report["dispatch_failed_recently"] = recent
    if recent:
        report["problems"].append("dispatch jobs failing")


def _is_operator(rt) -> bool:
    token = rt.settings.health_token
    given = request.headers.get("X-Health-Token") or request.args.get("token") or ""
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


@bp.get("/healthz")
def healthz():
    rt = current_app.extensions["hotline"]
    report = check(rt, time.time())
    status = 200 if report["ok"] else 503
    return (report if _is_operator(rt) else {"ok": report["ok"]}), status
