"""Benchmark: a worker SIGKILLed mid-fan-out; how long until another worker finishes the wave.

Two `python worker.py` processes serve the queues; the fake Twilio answers each
call after 250 ms so a wave of 8 texts takes about two seconds. Once 3 of the
8 texts are out, the worker running that dispatch job is killed with SIGKILL
(found through RQ's StartedJobRegistry). The clock runs from the kill to the
8th text arriving at the fake. Every trial also checks nobody was missed or
texted twice. Recovery is bounded by the fan-out lease (2 s, renewed while the
worker lives) plus the workers' one-second re-drive check plus the texts left.

    python bench/recovery.py                       # 5 trials, TWILIO_TIMEOUT_S=5 (the default)
    python bench/recovery.py --twilio-timeout 1
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dispatch as dispatch_bench  # noqa: E402  (bench/dispatch.py: fake, env, workers)
from rq.job import Job  # noqa: E402
from rq.registry import StartedJobRegistry  # noqa: E402

from bot import create_app, dispatch, incidents, observers, privacy, store  # noqa: E402
from bot.config import Settings  # noqa: E402

WAVE = 8
"""Observers texted in the one wave that gets cut."""


def busy_worker_pid(rt, incident_id: str) -> int | None:
    """The pid of the worker running this incident's start job (worker names end in the pid)."""
    registry = StartedJobRegistry(queue=rt.queue("dispatch"))
    for job_id in registry.get_job_ids():
        job = Job.fetch(job_id, connection=rt.r_raw)
        if job.func_name.endswith("start_dispatch") and job.args == (incident_id,) and job.worker_name:
            return int(job.worker_name.rsplit("-", 1)[-1])
    return None


def trial(rt, settings, fake, workers: list, n: int) -> dict:
    """Run one kill-and-recover trial; return its timings and correctness."""
    lat, lon = dispatch_bench.grid_point(n * 3)
    numbers = []
    for k in range(WAVE):
        e164 = f"+1213556{n:02d}{k:02d}"
        numbers.append(e164)
        row = {
            "name": f"T{n}-{k}",
            "phone": e164,
            "languages": "en",
            "radius_km": "0.5",
            "location": f"{lat + k * 0.0003:.5f},{lon:.5f}",
            "on_call": "yes",
        }
        observers.upsert(rt.r, settings, observers.parse_row(row, settings), now=time.time())
    cid = privacy.contact_id(settings.secret, f"+1323555{9000 + n}")
    incident_id = incidents.merge_report(
        rt.r, incidents.Report(cid, lat, lon, 30, "raid", {}, "en", "sms"), settings, time.time()
    ).incident_id
    dispatch.enqueue_start(rt, incident_id)

    def sent() -> list[dict]:
        return [m for m in fake.messages() if m["to"] in numbers]

    while len(sent()) < 3:
        time.sleep(0.01)
    pid = busy_worker_pid(rt, incident_id)
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    victim = next(w for w in workers if w.pid == pid)
    victim.wait(timeout=10)
    workers.remove(victim)
    deadline = time.time() + 120
    while len(sent()) < WAVE and time.time() < deadline:
        time.sleep(0.05)
    messages = sent()
    counts = Counter(m["to"] for m in messages)
    after = sorted(m["received_at"] for m in messages if m["received_at"] > killed_at)
    result = {
        "texts": len(messages),
        "missed": WAVE - len(counts),
        "twice": sum(1 for c in counts.values() if c > 1),
        "recovery_s": round(max(m["received_at"] for m in messages) - killed_at, 2),
        "first_resumed_s": round(after[0] - killed_at, 2) if after else None,
    }
    workers.append(dispatch_bench.start_worker(workers_env))
    return result


workers_env: dict = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--twilio-timeout", type=float, default=5.0, help="TWILIO_TIMEOUT_S of the workers")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="hotline-bench-")
    redis = store.start_embedded(data_dir, appendonly=False)
    fake = dispatch_bench.Fake()
    workers: list = []
    try:
        fake.latency(250)
        workers_env.update(
            dispatch_bench.env_for(redis.url, fake.url, data_dir, TWILIO_TIMEOUT_S=str(args.twilio_timeout))
        )
        settings = Settings.from_env(
            {**workers_env, "HOTLINE_WAVE_SIZE": str(WAVE), "HOTLINE_OBSERVERS_NEEDED": str(WAVE)}
        )
        app = create_app(settings)
        rt = app.extensions["hotline"]
        workers.extend(dispatch_bench.start_worker(workers_env) for _ in range(2))
        time.sleep(2.0)  # both workers up and listening before the first trial
        results = [trial(rt, settings, fake, workers, n) for n in range(args.trials)]
        for r in results:
            print(json.dumps(r))
        print(
            json.dumps(
                {
                    "twilio_timeout_s": args.twilio_timeout,
                    "trials": len(results),
                    "recovery_median_s": statistics.median(r["recovery_s"] for r in results),
                    "recovery_max_s": max(r["recovery_s"] for r in results),
                    "missed": sum(r["missed"] for r in results),
                    "twice": sum(r["twice"] for r in results),
                }
            )
        )
    finally:
        for w in workers:
            dispatch_bench.stop_worker(w)
        fake.stop()
        redis.stop()


if __name__ == "__main__":
    main()
