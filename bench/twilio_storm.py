"""Drill: Twilio answers 429/20429 to every call for 150 s, then recovers; or accepts texts after our timeout.

The hotline runs as in production: signed webhooks into the Flask app (its test
client), `python worker.py` (RQ worker + scheduler, with the watchdog) in its
own process, the fake Twilio in its own process, the embedded Redis. Incidents
are reported through the whole sighting conversation while Twilio is refusing
everything; each incident texts exactly one observer (bench/dispatch.py's grid).

    python bench/twilio_storm.py                          # 150 s 429 storm, 20 incidents
    python bench/twilio_storm.py --storm-s 60 --incidents 5
    python bench/twilio_storm.py --scenario late          # creates answered after TWILIO_TIMEOUT_S

It prints one JSON line: dispatch texts sent (of those owed), doubled, seconds
from recovery to each text (median, max), coordinator texts and what they said
(first words), calls the storm answered (how hard Twilio was hammered), and
whether /healthz said unhealthy during the storm.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dispatch as dispatch_bench  # noqa: E402  (bench/dispatch.py: the same fixtures)

from bot import create_app, dispatch, store  # noqa: E402
from bot.config import Settings  # noqa: E402

COORDINATOR = "+13105550199"
AFTER_S = 120.0
"""After recovery (or the last late answer), wait at most this long for every text."""


def post(url: str, payload: dict | None = None, method: str = "POST") -> None:
    data = json.dumps(payload or {}).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method=method)
    urllib.request.urlopen(request).close()


def outage_answered(fake) -> int:
    with urllib.request.urlopen(fake.url + "/_fake/outage") as response:
        return int(json.load(response)["answered"])


def owed_texts(fake, count: int) -> dict[str, list[float]]:
    """Dispatch texts the fake holds per observer number (received_at of each)."""
    wanted = {dispatch_bench.observer_number(i) for i in range(count)}
    found: dict[str, list[float]] = collections.defaultdict(list)
    for message in fake.messages():
        if message["to"] in wanted:
            found[message["to"]].append(message["received_at"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("storm", "late"), default="storm")
    parser.add_argument("--storm-s", type=float, default=150.0)
    parser.add_argument("--incidents", type=int, default=20)
    parser.add_argument("--wave-timeout-s", type=int, default=120, help="HOTLINE_WAVE_TIMEOUT_S (default 120)")
    parser.add_argument("--timeout-s", type=float, default=2.0, help="TWILIO_TIMEOUT_S (late scenario)")
    parser.add_argument("--late-s", type=float, default=6.0, help="how late the fake answers creates (late)")
    parser.add_argument("--redis-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--fake-port", type=int, default=0, help="0: a free port")
    args = parser.parse_args()

    with dispatch_bench.services(
        "hotline-storm-", redis_port=args.redis_port or None, fake_port=args.fake_port or None
    ) as (redis, fake, data_dir):
        env = dispatch_bench.env_for(
            redis.url,
            fake.url,
            data_dir,
            HOTLINE_WAVE_TIMEOUT_S=str(args.wave_timeout_s),
            HOTLINE_OBSERVERS_NEEDED="1",
            HOTLINE_COORDINATORS=COORDINATOR,
            TWILIO_TIMEOUT_S=str(args.timeout_s),
        )
        settings = Settings.from_env(env)
        app = create_app(settings)
        rt = app.extensions["hotline"]
        dispatch_bench.put_roster(app, settings, args.incidents)
        with dispatch_bench.running(env):
            reporter = dispatch_bench.Reporter(app, settings)
            unhealthy = False
            if args.scenario == "storm":
                post(fake.url + "/_fake/outage", {"status": 429, "code": 20429, "seconds": args.storm_s})
            else:
                late = {"count": args.incidents, "ms": args.late_s * 1000, "created_late": True}
                post(fake.url + "/_fake/late", late)
            began = time.time()
            # whole conversations; the webhooks answer in TwiML whatever Twilio's API does
            for i in range(args.incidents):
                lat, lon = dispatch_bench.grid_point(i)
                number = f"+1323{5550000 + i:07d}"
                for body in dispatch_bench.CONVERSATION:
                    reporter.text(body.format(lat=lat, lon=lon), number)
            recovered = began + (args.storm_s if args.scenario == "storm" else args.late_s)
            while time.time() < recovered:
                unhealthy = unhealthy or not dispatch.health(rt)["ok"]
                time.sleep(1)  # a drill: real seconds pass, as in the storm
            deadline = time.time() + AFTER_S
            while time.time() < deadline and len(owed_texts(fake, args.incidents)) < args.incidents:
                time.sleep(0.5)
            time.sleep(min(10.0, max(0.0, deadline - time.time())))  # any late double shows up in this margin
        texts = owed_texts(fake, args.incidents)
        firsts = sorted(min(at) for at in texts.values())
        after = [max(0.0, at - recovered) for at in firsts]
        coordinator = [m["body"] for m in fake.messages() if m["to"] == COORDINATOR]
        result = {
            "scenario": args.scenario,
            "outage_s": args.storm_s if args.scenario == "storm" else args.late_s,
            "wave_timeout_s": args.wave_timeout_s,
            "dispatch_texts_owed": args.incidents,
            "dispatch_texts_sent": len(texts),
            "doubled": sum(1 for at in texts.values() if len(at) > 1),
            "s_after_recovery_median": round(statistics.median(after), 1) if after else None,
            "s_after_recovery_max": round(max(after), 1) if after else None,
            "coordinator_texts": len(coordinator),
            "coordinator_said": [body[:70] for body in coordinator],
            "storm_calls_answered": outage_answered(fake),
            "healthz_unhealthy_during": unhealthy,
            "waves_opened": sorted(
                collections.Counter(
                    rt.r.hget(store.incident_plan_key(i), "wave") for i in rt.r.zrange(store.dispatch_due_key(), 0, -1)
                ).items()
            ),
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
