"""The RQ worker: `python worker.py` serves `dispatch` > `default` > `broadcast`, with RQ's scheduler.

One process, two RQ workers on the same Redis: the main thread serves
`dispatch` then `default`; a second thread serves `broadcast`, so a 10,000-text
alert paced at HOTLINE_SEND_RATE never stands in front of a dispatch text.
Both are `SimpleWorker`s (no fork per job: a fork costs milliseconds the
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

from bot import dispatch, runtime
from bot.config import Settings
from bot.errors import SendError

log = logging.getLogger("hotline.worker")

HEARTBEAT_EVERY_S = 1.0
"""How often this process beats for health and re-drives stalled dispatch.

The re-drive also runs here, not only as RQ's scheduled watchdog job: RQ's
scheduler lock outlives a dead host by a minute, and a stalled dispatch must
resume within seconds.
"""

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
    while not stop.is_set():
        now = time.time()
        try:
            dispatch.beat(rt.r, "worker", now)
            dispatch.redrive_due(rt, now)
            if beats % HOUSEKEEPING_EVERY == 0:
                dispatch.ensure_watchdog(rt)
                dispatch.warn_if_uncovered(rt, now)
        except (redis.RedisError, SendError):  # a hiccup must not stop the beat; the next one retries
            log.warning("heartbeat round failed", exc_info=True)
        beats += 1
        stop.wait(HEARTBEAT_EVERY_S)


GIL_SWITCH_S = 0.0005
"""Python's default 5 ms GIL slice lets eight broadcast threads hold up the dispatch thread;
a shorter slice hands it the interpreter within a fraction of a millisecond."""


def main(burst: bool = False) -> None:
    """Configure from the environment and work the queues until stopped."""
    sys.setswitchinterval(GIL_SWITCH_S)
    rt = runtime.configure(Settings.from_env())
    name = f"hotline-{socket.gethostname()}-{os.getpid()}"
    stop = threading.Event()
    threading.Thread(target=_beat_forever, args=(rt, stop), daemon=True, name="heartbeat").start()
    bulk = ThreadWorker([rt.queue("broadcast")], connection=rt.r_raw, name=name + "-broadcast")
    threading.Thread(
        target=bulk.work, kwargs={"burst": burst, "logging_level": "WARNING"}, daemon=True, name="broadcast"
    ).start()
    main_worker = SimpleWorker([rt.queue("dispatch"), rt.queue("default")], connection=rt.r_raw, name=name)
    try:
        main_worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        stop.set()  # the broadcast thread is a daemon: a chunk cut short resumes from its send records


if __name__ == "__main__":
    main(burst="--burst" in sys.argv[1:])
