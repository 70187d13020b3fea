"""Benchmark: a reporter's final webhook → the first dispatch text accepted by the (fake) Twilio API.

Each of N incidents is a whole signed conversation through the hotline's Flask
app (in this process, via its test client: the full webhook stack without a
socket); the clock starts just before the final webhook (the one whose flow
runs `report.submit`) and stops at the `received_at` the fake Twilio records
for the first dispatch text. The fake Twilio and `python worker.py` run as
separate processes, as in production; Redis is the embedded server.

    python bench/dispatch.py                  # 200 incidents
    python bench/dispatch.py --incidents 50 --latency-ms 50

Target (issue 5): median < 50 ms, p99 < 250 ms.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadgen import SignedPoster  # noqa: E402
from webhook import ACCOUNT_SID, PUBLIC_URL, TOKEN, hotline_env  # noqa: E402  (bench/ is on the path: scripts run from it)

from bot import create_app, observers, store  # noqa: E402
from bot.config import Settings  # noqa: E402

CENTER = (33.9795, -118.2200)
GRID_KM = 1.2
"""Incidents sit on a grid this far apart: beyond the dedupe radius, so each is new."""

CONVERSATION = ["hi", "1", "{lat:.5f},{lon:.5f}", "now", "4 agents 2 cars", "1 6", "no"]
"""The sighting flow's happy path; the last text submits the report."""

WAIT_S = 10.0
"""Give up on one incident's first text after this long (counted as a miss)."""

FAKE_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
import logging
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from bot.fake_twilio import FakeTwilioServer
server = FakeTwilioServer(port={port}).start()
print("ready", flush=True)
sys.stdin.read()
"""


def env_for(redis_url: str, fake_url: str, data_dir: str, **extra) -> dict[str, str]:
    """The environment a hotline process gets in the dispatch benches: one observer per wave, no wave timeout
    (either overridden by `extra`, as bench/twilio_storm.py's --wave-timeout-s does)."""
    return hotline_env(
        redis_url, fake_url, data_dir, **{"HOTLINE_WAVE_SIZE": "1", "HOTLINE_WAVE_TIMEOUT_S": "3600", **extra}
    )


class Fake:
    """The fake Twilio in its own process, so its work never shares a GIL with what is measured."""

    def __init__(self, port: int | None = None):
        self.port = port or store.free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FAKE_SCRIPT.format(root=str(ROOT), port=self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"
        self.url = f"http://127.0.0.1:{self.port}"

    def messages(self) -> list[dict]:
        with urllib.request.urlopen(self.url + "/_fake/messages") as response:
            return json.load(response)

    def sent_to(self, to: str) -> list[dict]:
        """Messages to one number, newest first (Twilio's own list filter, answered by the fake)."""
        query = urllib.parse.urlencode({"To": to, "PageSize": 5})
        url = f"{self.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?{query}"
        request = urllib.request.Request(
            url, headers={"Authorization": "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{TOKEN}".encode()).decode()}
        )
        with urllib.request.urlopen(request) as response:
            return json.load(response)["messages"]

    def latency(self, ms: float) -> None:
        request = urllib.request.Request(
            self.url + "/_fake/latency",
            data=json.dumps({"ms": ms}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request).close()

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def start_worker(env: dict, root: Path = ROOT) -> subprocess.Popen:
    """Start `python worker.py` (of the tree at `root`) in its own process group (it forks RQ's scheduler)."""
    return subprocess.Popen(
        [sys.executable, str(root / "worker.py")],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_worker(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(env: dict, root: Path = ROOT):
    """`python worker.py` for the length of a `with` block (stopped however the block ends)."""
    worker = start_worker(env, root)
    try:
        yield worker
    finally:
        stop_worker(worker)


@contextlib.contextmanager
def services(prefix: str = "hotline-bench-", redis_port: int | None = None, fake_port: int | None = None):
    """A private embedded Redis (no persistence) and the fake Twilio in its own process, for one bench run:
    yields (redis server, fake, data dir) and stops both however the run ends. Ports: free ones unless given."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    redis = store.start_embedded(data_dir, port=redis_port, appendonly=False)
    try:
        fake = Fake(fake_port)
        try:
            yield redis, fake, data_dir
        finally:
            fake.stop()
    finally:
        redis.stop()


class Reporter:
    """Signed webhooks into the app's test client, like Twilio posting them."""

    def __init__(self, app, settings: Settings):
        self.poster = SignedPoster(app.test_client(), TOKEN, PUBLIC_URL, ACCOUNT_SID, settings.twilio_number)

    def text(self, body: str, from_: str) -> int:
        response = self.poster.text(from_, body)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.status_code


def grid_point(i: int) -> tuple[float, float]:
    side = 15
    row, col = divmod(i, side)
    return CENTER[0] + (row - side / 2) * GRID_KM / 111.0, CENTER[1] + (col - side / 2) * GRID_KM / 92.0


def observer_number(i: int) -> str:
    """The number of the observer who lives at grid point i."""
    return f"+1213555{1000 + i:04d}"


def put_roster(app, settings: Settings, count: int) -> None:
    """One observer on each incident's grid point, with a radius smaller than the grid step.

    So incident i texts exactly observer i, and the bench asks the fake only
    about that number (GET Messages.json?To=...), a light poll even when the
    fake holds 10,000 broadcast texts.
    """
    rt = app.extensions["hotline"]
    for i in range(count):
        lat, lon = grid_point(i)
        row = {
            "name": f"O{i}",
            "phone": observer_number(i),
            "languages": "en;es",
            "radius_km": "0.5",
            "location": f"{lat:.5f},{lon:.5f}",
            "on_call": "yes",
        }
        observers.upsert(rt.r, settings, observers.parse_row(row, settings), now=time.time())


def job_start_delays(rt, settings: Settings, starts: dict[int, float]) -> list[float]:
    """From each incident's timeline: ms from the final webhook to the dispatch job's start."""
    from bot import incidents, privacy

    by_observer = {privacy.contact_id(settings.secret, observer_number(i)): i for i in starts}
    delays = []
    for incident in incidents.list_open(rt.r):
        for event in incidents.timeline(rt.r, incident["id"]):
            if event["event"] == "dispatch_texted" and event.get("observer") in by_observer:
                delays.append((event["at"] - starts[by_observer[event["observer"]]]) * 1000)
                break
    return delays


def run_incidents(
    reporter: Reporter,
    fake: Fake,
    start: int,
    count: int,
    webhook_ms: list[float] | None = None,
    pause_s: float = 0.0,
    starts: dict[int, float] | None = None,
) -> list[float]:
    """Report `count` new incidents one after another; return first-dispatch-text latencies (ms)."""
    latencies = []
    for i in range(start, start + count):
        lat, lon = grid_point(i)
        number = f"+1323{5550000 + i:07d}"
        for body in CONVERSATION[:-1]:
            reporter.text(body.format(lat=lat, lon=lon), number)
        t0 = time.time()
        if starts is not None:
            starts[i] = t0
        reporter.text(CONVERSATION[-1], number)
        if webhook_ms is not None:
            webhook_ms.append((time.time() - t0) * 1000)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:  # poll the fake; its own received_at is the measurement
            sent = fake.sent_to(observer_number(i))
            if sent:
                latencies.append((sent[0]["received_at"] - t0) * 1000)
                break
            time.sleep(0.005)
        if pause_s:
            time.sleep(pause_s)  # spacing between incidents, to sample across a long broadcast
    return latencies


def summarize(name: str, latencies: list[float], wanted: int) -> dict:
    ordered = sorted(latencies)
    p = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")  # noqa: E731
    result = {
        "name": name,
        "incidents": wanted,
        "texted": len(ordered),
        "median_ms": round(statistics.median(ordered), 1) if ordered else None,
        "p90_ms": round(p(0.90), 1),
        "p99_ms": round(p(0.99), 1),
        "max_ms": round(ordered[-1], 1) if ordered else None,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency the fake Twilio adds to each call")
    args = parser.parse_args()

    with services() as (redis, fake, data_dir):
        fake.latency(args.latency_ms)
        env = env_for(redis.url, fake.url, data_dir)
        settings = Settings.from_env(env)
        app = create_app(settings)
        put_roster(app, settings, args.warmup + args.incidents)
        with running(env):
            reporter = Reporter(app, settings)
            run_incidents(reporter, fake, 0, args.warmup)
            webhook_ms: list[float] = []
            starts: dict[int, float] = {}
            latencies = run_incidents(reporter, fake, args.warmup, args.incidents, webhook_ms, starts=starts)
            print(json.dumps(summarize("webhook→first dispatch text", latencies, args.incidents)))
            print(json.dumps(summarize("final webhook alone (its share of the above)", webhook_ms, args.incidents)))
            waits = job_start_delays(app.extensions["hotline"], settings, starts)
            print(
                json.dumps(summarize("webhook start→dispatch job start (queue + worker pickup)", waits, args.incidents))
            )


if __name__ == "__main__":
    main()
