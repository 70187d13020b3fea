"""The RQ worker: `python worker.py` serves dispatch > default > dispatch_later, and broadcast, with the scheduler.

One process, several RQ workers on the same Redis: the main thread and
HOTLINE_DISPATCH_THREADS - 1 more serve `dispatch`, then `default`, then
`dispatch_later` (bot/dispatch/lanes.py) — a wave's texts spend their time
waiting on Twilio's API, so a burst of incidents is texted in parallel (the
incident lease keeps two threads off one incident); a quarter of them serve
only `dispatch`, so a first-lane job always finds a thread free of a flood's
later-lane waves and of slow `default` jobs (`thread_queues`); another thread serves
`broadcast`, so a 10,000-text alert paced at HOTLINE_SEND_RATE never stands in
front of a dispatch text.
All are `SimpleWorker`s (no fork per job: a fork costs milliseconds the
dispatch budget does not have); a job that crashes the process is recovered by
the dispatch watchdog, whose chain this process starts, and by RQ.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

import redis
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from bot import dispatch, errors, retention, router, runtime, store, twilio_retention
from bot.config import Settings
from bot.errors import SendError

log = logging.getLogger("hotline.worker")

HEARTBEAT_EVERY_S = 1.0
"""How often this process beats for health and re-drives stalled dispatch.

The re-drive also runs here, not only as RQ's scheduled watchdog job: RQ's
scheduler lock outlives a dead host by a minute, and a stalled dispatch must
resume within seconds.
"""

RETENTION_EVERY_S = 3600.0
"""How often a worker applies the retention policy (`hotline purge` does the same on demand)."""

HOUSEKEEPING_EVERY = 5
"""Beats between restarting the scheduled watchdog chain and the nobody-on-duty check."""


class ThreadWorker(SimpleWorker):
    """A SimpleWorker that can run outside the main thread (signals belong to the main one).

    Job timeouts use RQ's TimerDeathPenalty, since SIGALRM only reaches the main thread.
    """

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


def _beat_forever(rt, stop: threading.Event) -> None:
    beats = 0
    purged_at = 0.0
    while not stop.is_set():
        now = time.time()
        try:
            dispatch.beat(rt.r, "worker", now)
            dispatch.redrive_due(rt, now)
            twilio_retention.hand_over(rt, now)  # due deletions at Twilio become RQ jobs
            if beats % HOUSEKEEPING_EVERY == 0:
                store.ensure_marker(rt.r, rt.settings.data_dir)  # first start: mark this Redis as ours
                dispatch.ensure_watchdog(rt)
                dispatch.warn_if_uncovered(rt, now)
            if now - purged_at >= RETENTION_EVERY_S:
                retention.purge(rt, now)
                purged_at = now
        except (redis.RedisError, SendError) as exc:  # a hiccup must not stop the beat; the next one retries
            log.warning("heartbeat round failed: %s", type(exc).__name__)
            runtime.supervise_embedded(rt)
        except Exception as exc:  # noqa: BLE001 -- nor may a bug: the beat is what re-drives dispatch
            log.error("heartbeat round failed: %s", errors.where(exc))
        beats += 1
        stop.wait(HEARTBEAT_EVERY_S)


GIL_SWITCH_S = 0.0005
"""Python's default 5 ms GIL slice lets eight broadcast threads hold up the dispatch thread;
a shorter slice hands it the interpreter within a fraction of a millisecond."""


RECONNECT_FIRST_S = 0.5
"""First wait before building a new RQ worker after Redis went away; doubled up to RECONNECT_MAX_S."""

RECONNECT_MAX_S = 8.0
"""Longest wait between reconnection attempts: a restarted Redis is used within seconds."""


def _serve(rt, make_worker, work_kwargs: dict, stop: threading.Event, label: str) -> None:
    """Run RQ workers one after another until asked to stop; a Redis error ends a worker, never the process.

    RQ retries a lost connection only while it waits for a job: an error while a
    job runs (or in its teardown) ends `work()`. A job cut short that way is left
    in RQ's started registry; dispatch jobs are resumed within seconds by the
    heartbeat thread's re-drive, others by RQ's own abandoned-job handling.
    """
    generation = 0
    while not stop.is_set():
        worker = make_worker(generation)
        try:
            worker.work(**work_kwargs)
        except redis.RedisError as exc:  # register_birth/teardown/maintenance with Redis gone
            log.warning("%s worker: redis unavailable (%s); reconnecting", label, type(exc).__name__)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 -- a bug in one job's cleanup must not end the worker
            log.error("%s worker stopped on %s; restarting it", label, type(exc).__name__)
        if work_kwargs.get("burst") or getattr(worker, "_stop_requested", False):
            return  # done (burst) or asked to stop (SIGTERM/SIGINT): a warm shutdown, as RQ does it
        _wait_for_redis(rt, stop, label)
        generation += 1


def _wait_for_redis(rt, stop: threading.Event, label: str) -> None:
    """Back off until Redis answers again (restarting the embedded server if it is ours and died)."""
    delay = RECONNECT_FIRST_S
    while not stop.is_set():
        runtime.supervise_embedded(rt)
        if store.ping(rt.r_raw):
            log.warning("%s worker: redis answers again", label)
            return
        log.warning("%s worker: waiting %.1f s for redis", label, delay)
        stop.wait(delay)
        delay = min(delay * 2, RECONNECT_MAX_S)


ALL_QUEUES = ("dispatch", "default", "dispatch_later")
"""What a dispatch thread serves, in priority order: first-lane dispatch, then everything else, then the later lane."""

FIRST_LANE_ONLY = ("dispatch",)
"""What a reserved thread serves: a genuine report's first wave never waits for a thread busy with a later-lane
dispatch or a slow `default` job (the thousands of deletions at Twilio two minutes after a flood)."""


def thread_queues(threads: int) -> list[tuple[str, ...]]:
    """The queues each of a worker's `threads` dispatch threads serves (the first is the main thread's).

    A quarter of them (at least one, when there are two or more) serve only the first lane; the main
    thread, which also runs RQ's scheduler, and the rest serve every queue in priority order.
    """
    reserved = min(threads - 1, max(1, threads // 4))
    return [ALL_QUEUES] + [FIRST_LANE_ONLY] * reserved + [ALL_QUEUES] * (threads - 1 - reserved)


def main(burst: bool = False) -> None:
    """Configure from the environment and work the queues until stopped."""
    sys.setswitchinterval(GIL_SWITCH_S)
    rt = runtime.configure(Settings.from_env())
    host, pid = socket.gethostname(), os.getpid()
    stop = threading.Event()
    threading.Thread(target=_beat_forever, args=(rt, stop), daemon=True, name="heartbeat").start()
    router.start_replayer(rt)  # a worker replays the outage spool too (the web may be idle after an outage)

    def bulk(gen: int) -> ThreadWorker:  # names end in the pid (bench/recovery.py finds workers by it)
        return ThreadWorker([rt.queue("broadcast")], connection=rt.r_raw, name=f"hotline-{host}-broadcast-g{gen}-{pid}")

    plan = [[rt.queue(name) for name in names] for names in thread_queues(rt.settings.dispatch_threads)]

    def urgent(gen: int) -> SimpleWorker:
        return SimpleWorker(plan[0], connection=rt.r_raw, name=f"hotline-{host}-g{gen}-{pid}")

    def helper(n: int):
        def make(gen: int) -> ThreadWorker:
            return ThreadWorker(plan[n], connection=rt.r_raw, name=f"hotline-{host}-d{n}-g{gen}-{pid}")

        return make

    threading.Thread(
        target=_serve,
        args=(rt, bulk, {"burst": burst, "logging_level": "WARNING"}, stop, "broadcast"),
        daemon=True,
        name="broadcast",
    ).start()
    for n in range(1, rt.settings.dispatch_threads):  # the main thread is the first: it also runs the scheduler
        threading.Thread(
            target=_serve,
            args=(rt, helper(n), {"burst": burst, "logging_level": "WARNING"}, stop, f"dispatch-{n}"),
            daemon=True,
            name=f"dispatch-{n}",
        ).start()
    try:
        _serve(rt, urgent, {"burst": burst, "with_scheduler": True, "logging_level": "WARNING"}, stop, "dispatch")
    finally:
        stop.set()  # the broadcast thread is a daemon: a chunk cut short resumes from its send records


if __name__ == "__main__":
    main(burst="--burst" in sys.argv[1:])
