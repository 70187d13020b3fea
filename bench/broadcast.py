"""Benchmark: a 10,000-subscriber alert through one worker, and dispatch latency while it runs.

The fake Twilio (own process) answers every call after `--latency-ms` (50 ms:
a real API round trip). One `python worker.py` process serves every queue. The
bench measures first-dispatch-text latency with the worker idle, then starts
the broadcast of a verified incident and measures it again while the alert is
going out, then reports the broadcast's messages/second.

    python bench/broadcast.py                          # 10,000 subscribers, 50 ms, rate 1000/s
    python bench/broadcast.py --rate 10                # the default HOTLINE_SEND_RATE

Target (issue 5): dispatch latency during the broadcast within 2x of idle.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dispatch as dispatch_bench  # noqa: E402  (bench/dispatch.py: the same fixtures and probe)

from bot import alerts, incidents, privacy, store  # noqa: E402
from bot.config import Settings  # noqa: E402

ALERT_ZIP = "90255"
"""Subscribers' ZIP: the verified incident sits in it."""

BROADCAST_AT = (33.9795, -118.2200)


def add_subscribers(rt, count: int) -> None:
    """Store `count` subscribers in one ZIP, pipelined (sealing each number as sign-up does)."""
    pipe = rt.r.pipeline(transaction=False)
    for i in range(count):
        e164 = f"+1424{5550000 + i:07d}"
        cid = privacy.contact_id(rt.settings.secret, e164)
        pipe.hset(
            store.subscriber_key(cid),
            mapping={
                "phone": privacy.seal(rt.settings.secret, e164),
                "zip": ALERT_ZIP,
                "language": "es" if i % 2 else "en",
                "since": "0",
            },
        )
        pipe.sadd(store.subscribers_key(ALERT_ZIP), cid)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="HOTLINE_SEND_RATE for the run")
    parser.add_argument("--probes", type=int, default=40, help="dispatch incidents per phase")
    args = parser.parse_args()

    with dispatch_bench.services() as (redis, fake, data_dir):
        fake.latency(args.latency_ms)
        env = dispatch_bench.env_for(redis.url, fake.url, data_dir, HOTLINE_SEND_RATE=str(args.rate))
        settings = Settings.from_env(env)
        app = dispatch_bench.create_app(settings)
        rt = app.extensions["hotline"]
        dispatch_bench.put_roster(app, settings, 5 + 2 * args.probes)
        add_subscribers(rt, args.subscribers)
        with dispatch_bench.running(env):
            reporter = dispatch_bench.Reporter(app, settings)
            dispatch_bench.run_incidents(reporter, fake, 0, 5)
            idle = dispatch_bench.run_incidents(reporter, fake, 5, args.probes)

            cid = privacy.contact_id(settings.secret, "+13235559999")
            merge = incidents.merge_report(
                rt.r,
                incidents.Report(  # a checkpoint never merges with the probes' raids
                    cid, BROADCAST_AT[0], BROADCAST_AT[1], 30, "checkpoint", {}, "en", "sms"
                ),
                settings,
                time.time(),
            )
            incidents.set_status(rt.r, merge.incident_id, "verified", time.time(), "bench")
            started = time.time()
            rt.queue("broadcast").enqueue(alerts.broadcast, merge.incident_id, job_timeout=3600)
            time.sleep(1.0)  # let the broadcast reach full speed before probing
            busy = dispatch_bench.run_incidents(reporter, fake, 5 + args.probes, args.probes, pause_s=0.2)
            while int(rt.r.hget(store.broadcast_key(merge.incident_id), "sent") or 0) < args.subscribers:
                if time.time() - started > args.subscribers / min(args.rate, 1000) * 3 + 120:
                    break  # report what went out rather than hang
                time.sleep(0.5)
            sent = int(rt.r.hget(store.broadcast_key(merge.incident_id), "sent") or 0)
            finished = time.time()
        print(
            json.dumps(
                {
                    "broadcast": {
                        "subscribers": args.subscribers,
                        "sent": sent,
                        "seconds": round(finished - started, 1),
                        "msgs_per_s": round(sent / (finished - started), 1),
                        "rate_limit": args.rate,
                        "api_latency_ms": args.latency_ms,
                    }
                }
            )
        )
        i = dispatch_bench.summarize("dispatch idle", idle, args.probes)
        b = dispatch_bench.summarize("dispatch during broadcast", busy, args.probes)
        print(json.dumps(i))
        print(json.dumps(b))
        print(json.dumps({"median_ratio": round(b["median_ms"] / i["median_ms"], 2)}))


if __name__ == "__main__":
    main()
