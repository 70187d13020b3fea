"""Benchmark: the floods and the trap of issue 12, through signed webhooks, against a real app and worker.

Each scenario starts from an empty Redis with the same roster (observers on a
grid over the city, each covering HOTLINE-like 6 km), posts its reports as
Twilio would (signed, in this process through the app's test client, as
bench/dispatch.py does), lets `python worker.py` and the fake Twilio (own
processes) finish, and prints one JSON line:

- `dispatch_texts`: texts the fake Twilio got for observers; `max_per_observer`;
- `coordinator_texts`: texts to the coordinators' phone;
- `incidents`, `held` (by a flood cap), `unusual` (a trap flagged);
- for `genuine`: a real report's first dispatch latency (ms), idle and while a
  flood of `--rate` reports a minute from `--numbers` numbers runs, and how much
  of it was the webhook's own answer; `cpu_ms_per_report`, the CPU each process kind
  (web, worker, Redis, fake Twilio, the flood's own sender) spent per flood report
  while the flood ran, and `cores_busy`, all of it over the flood's length.

    python bench/flood.py                          # every scenario
    python bench/flood.py --only one_number,trap
    python bench/flood.py --only genuine --rate 10000 --numbers 1000 --flood-s 20
    python bench/flood.py --only genuine --rate 3000 --twilio-ms 150 --rev 3118dfa   # before, Twilio-like latency

`genuine` is the real thing over HTTP: gunicorn with the Procfile's settings
(`-w 3 --threads 2`) and `worker.py`, both from the tree of `--rev` (default:
this checkout), and the flood from its own process, open loop over keep-alive
sockets, every request signed before the clock starts; `flood_rate_per_min_sent`
says what the server took, `flood_send_late_p50_ms` how far behind the flood's
schedule it fell (a saturated web tier). `--twilio-ms` makes the fake answer as
late as Twilio's API does (100–300 ms a create).

Scenarios: `one_number` (500 reports from one number, each after DELETE),
`trap` (200 never-seen numbers at one spot), `city` (200 numbers across the
city), `unplaced` (250 reports nobody can place), all four in this process through
the app's test client, and `genuine` (idle vs flood, over HTTP). A scenario's
reports go out as fast as this process can post them; the rate achieved is
printed (`reports_per_s`), so a slow machine says so.

The web chat, where no phone number stands behind a report, has scenarios of its own,
in this process too, against an app behind one reverse proxy (HOTLINE_PROXY_HOPS=1,
the client in X-Forwarded-For): a script does what the page's script does (`GET /chat`
for a server-issued chat id and its CSRF token, then the report as a JSON post), a
fresh cookie jar (so a new chat id) for every report. `webchat_one_client` (200
reports from one address across the city; over the new-chat limit the script posts
anyway and takes the fresh chat the server's 403 starts, as the page does),
`webchat_trap` (200 addresses at one spot) and `webchat_city` (200 addresses across
the city). Their rows add `client_got`: the answers the script got, by kind
(`page_200`, `page_429`, `post_200`, `post_403_restart`, `post_429`, `other`).

    python bench/flood.py --only webchat_one_client,webchat_trap,webchat_city
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import multiprocessing
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dispatch import Fake, Reporter, env_for, running, services  # noqa: E402
from loadgen import Connection, signed_request  # noqa: E402
from webhook import ACCOUNT_SID, PUBLIC_URL, TOKEN, export_tree, gunicorn, hotline_env, wait_ready  # noqa: E402

from bot import create_app, incidents, observers, runtime, store  # noqa: E402
from bot.config import Settings  # noqa: E402

COORDINATOR = "+13105550199"
CENTER = (33.9795, -118.2200)
CITY_KM = 16.0
"""The city is a square this wide around CENTER; observers sit on a grid over it."""

ROSTER_SIDE = 6
"""A 6 × 6 grid of observers, ~2.7 km apart, each covering 6 km: a real network's density."""

GENUINE_EAST_KM = CITY_KM / 2 + 12
"""Genuine reports come from scenes this far east of CENTER: beyond every flood report and its observers."""


def genuine_point(n: int) -> tuple[float, float]:
    """The scene of genuine report n (1.5 km apart: each its own incident, with its own observer beside it)."""
    return CENTER[0] + (n % 10) * 1.5 / 111.0, CENTER[1] + (GENUINE_EAST_KM + (n // 10) * 1.5) / 92.0


SETTLE_S = 1.5
"""A scenario is done when the fake got nothing new for this long after the last report."""


def report_text(lat: float, lon: float) -> str:
    """One text that is a whole report (place and activity: dispatched at once)."""
    return f"ICE raid now at {lat:.5f},{lon:.5f}"


def city_point(rng: random.Random) -> tuple[float, float]:
    half = CITY_KM / 2
    return CENTER[0] + rng.uniform(-half, half) / 111.0, CENTER[1] + rng.uniform(-half, half) / 92.0


def roster_number(i: int) -> str:
    return f"+1213556{i:04d}"


def city_roster(rt, settings: Settings, genuine: int = 0) -> list[str]:
    """Observers on a grid over the city (6 km radius), then one beside each genuine scene (0.5 km); their numbers."""
    numbers = []
    step = CITY_KM / ROSTER_SIDE
    offsets = [(i - ROSTER_SIDE / 2 + 0.5) * step for i in range(ROSTER_SIDE)]
    points = [(CENTER[0] + north / 111.0, CENTER[1] + east / 92.0) for north in offsets for east in offsets]
    city_count = len(points)
    points += [(lat + 0.2 / 111.0, lon) for lat, lon in map(genuine_point, range(genuine))]
    for i, (lat, lon) in enumerate(points):
        row = {
            "name": f"O{i}",
            "phone": roster_number(i),
            "languages": "en;es",
            "radius_km": "6" if i < city_count else "0.5",
            "location": f"{lat:.5f},{lon:.5f}",
            "on_call": "yes",
        }
        observers.upsert(rt.r, settings, observers.parse_row(row, settings), now=time.time())
        numbers.append(roster_number(i))
    return numbers


def clear_fake(fake: Fake) -> None:
    request = urllib.request.Request(fake.url + "/_fake/messages", method="DELETE")
    urllib.request.urlopen(request).close()


def settle(fake: Fake, rt) -> list[dict]:
    """Wait until the worker has nothing queued, the coordinators' digest nothing waiting (its window is a
    minute) and the fake got nothing new for SETTLE_S; return the fake's messages."""
    last, quiet_since = -1, time.monotonic()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        count = len(fake.messages())
        busy = sum(rt.queue(name).count for name in runtime.QUEUE_NAMES)
        busy += rt.r.exists(store.digest_key("pending"), store.digest_key("inflight_id"))
        if count != last or busy:
            last, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since > SETTLE_S:
            break
        time.sleep(0.25)
    return fake.messages()


def tally(name: str, messages: list[dict], roster: list[str], rt, sent: int, seconds: float) -> dict:
    per_observer: dict[str, int] = {}
    for m in messages:
        if m["to"] in roster:
            per_observer[m["to"]] = per_observer.get(m["to"], 0) + 1
    opened = incidents.list_open(rt.r)
    return {
        "scenario": name,
        "reports": sent,
        "reports_per_s": round(sent / seconds, 1) if seconds else None,
        "incidents": len(opened),
        "held": sum(1 for i in opened if i.get("held")),
        "unusual": sum(1 for i in opened if i.get("unusual")),
        "dispatch_texts": sum(per_observer.values()),
        "max_per_observer": max(per_observer.values(), default=0),
        "coordinator_texts": sum(1 for m in messages if m["to"] == COORDINATOR),
    }


def one_number(reporter: Reporter, rng: random.Random, count: int = 500) -> int:
    """One number, `count` reports across the city, each after DELETE (a new conversation every time)."""
    number = "+13235559000"
    for _ in range(count):
        reporter.text("delete", number)
        reporter.text(report_text(*city_point(rng)), number)
    return count


def trap(reporter: Reporter, rng: random.Random, count: int = 200) -> int:
    """`count` never-seen numbers reporting one spot within seconds."""
    spot = (CENTER[0] - 3 / 111.0, CENTER[1] - 3 / 92.0)
    for i in range(count):
        reporter.text(report_text(*spot), f"+1424555{i:04d}")
    return count


def city(reporter: Reporter, rng: random.Random, count: int = 200) -> int:
    """`count` numbers, one report each, spread across the city."""
    for i in range(count):
        reporter.text(report_text(*city_point(rng)), f"+1562555{i:04d}")
    return count


def unplaced(reporter: Reporter, rng: random.Random, count: int = 250) -> int:
    """`count` numbers whose place nobody can find (the flow asks twice, then files it unplaced)."""
    words = "behind the blue house near the taco truck"
    for i in range(count):
        number = f"+1626555{i:04d}"
        for body in ("ICE raid now", words, words):
            reporter.text(body, number)
    return count


WEB_PROXY = "127.0.0.1"
"""The reverse proxy every web chat request of the web scenarios comes through (HOTLINE_PROXY_HOPS=1)."""

WEB_SCRIPT = "203.0.113.7"
"""The one address `webchat_one_client` posts from (TEST-NET-3: nobody's real address)."""


def web_client(i: int) -> str:
    """Client address i of a many-address web flood (198.18.0.0/15, the benchmarking range)."""
    return f"198.18.{i // 250}.{i % 250 + 1}"


CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


class WebScript:
    """A script driving the web chat as the page's own script does (bot/static/chat.js), through the app's
    test client behind one proxy: `GET /chat` for a server-issued chat id (cookie) and its CSRF token, then
    JSON posts with that token. Every chat is a fresh cookie jar (a script dropping its cookie). Counts every
    answer by what it was: `page_200`/`page_429` (GET /chat), `post_200`/`post_403_restart`/`post_429`, and
    `other` for anything else (a 4xx the script did not expect, a 5xx)."""

    def __init__(self, app):
        self.app = app
        self.answers: dict[str, int] = {}
        self.seq = itertools.count()

    def _count(self, key: str) -> None:
        self.answers[key] = self.answers.get(key, 0) + 1

    def report(self, client: str, lat: float, lon: float) -> bool:
        """A new chat from `client` (its X-Forwarded-For) posting one whole report; True when it was answered.

        Over the new-chat limit the page answers 429 and sets no cookie; the script then does what the page
        does with a 403: posts anyway, takes the fresh chat the server starts (`restart` + `csrf`) and sends
        the report again in it."""
        browser = self.app.test_client()
        browser.environ_base["REMOTE_ADDR"] = WEB_PROXY
        headers = {"X-Forwarded-For": client, "Accept-Language": "en", "Content-Language": "en"}
        page = browser.get("/chat", headers=headers)
        self._count(f"page_{page.status_code}" if page.status_code in (200, 429) else "other")
        token = ""
        if page.status_code == 200:
            token = CSRF_META.search(page.get_data(as_text=True)).group(1)
        body = {"text": report_text(lat, lon)}
        for _ in range(2):
            post_headers = {**headers, "X-CSRF-Token": token, "Content-Type": "application/json"}
            body["id"] = f"flood-{next(self.seq):08d}"
            response = browser.post("/chat/messages", data=json.dumps(body), headers=post_headers)
            answer = response.get_json(silent=True) or {}
            if response.status_code == 403 and answer.get("restart"):
                self._count("post_403_restart")
                token = answer["csrf"]
                continue
            self._count(f"post_{response.status_code}" if response.status_code in (200, 429) else "other")
            return response.status_code == 200
        return False


def webchat_one_client(script: WebScript, rng: random.Random, count: int = 200) -> int:
    """One client address (behind the proxy) opening `count` chats, a new chat id each, reporting across the city."""
    for _ in range(count):
        script.report(WEB_SCRIPT, *city_point(rng))
    return count


def webchat_trap(script: WebScript, rng: random.Random, count: int = 200) -> int:
    """`count` client addresses (X-Forwarded-For, one proxy), a new chat each, reporting one spot within seconds."""
    spot = (CENTER[0] - 3 / 111.0, CENTER[1] - 3 / 92.0)
    for i in range(count):
        script.report(web_client(i), *spot)
    return count


def webchat_city(script: WebScript, rng: random.Random, count: int = 200) -> int:
    """`count` client addresses, one chat and one report each, spread across the city."""
    for i in range(count):
        script.report(web_client(i), *city_point(rng))
    return count


def genuine_latency(post, fake: Fake, observer: str, n: int, answered: list[float] | None = None) -> float:
    """Report real scene n from a new number (`post(from_, body)`); ms to the first dispatch text to the
    observer beside it, as the fake Twilio stamped its arrival. The webhook's own answer time (ms) is
    appended to `answered`: what of the latency was the web side, what the dispatch."""
    t0 = time.time()
    post(f"+1818555{n:04d}", report_text(*genuine_point(n)))
    if answered is not None:
        answered.append((time.time() - t0) * 1000)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # poll the fake for that one number; its received_at is the measurement
        sent = fake.sent_to(observer)
        if sent:
            return (sent[0]["received_at"] - t0) * 1000
        time.sleep(0.005)
    return float("nan")


def family(pid: int) -> list[int]:
    """A process and its children (gunicorn's workers, the worker's forks), read from /proc (Linux)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return [pid, *kids]


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (/proc/<pid>/stat), those still alive."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


FLOOD_SENDERS = 96
"""Sender threads of the flood process: enough that a slow answer never holds the open loop back."""


def http_flood(url: str, rate: float, numbers: int, seconds: float, started, results) -> None:
    """Child process: post `rate` reports a minute from `numbers` numbers for `seconds` to gunicorn.

    Open loop over keep-alive sockets (bench/loadgen.py's `Connection`): report i is due at
    start + i × 60/rate whatever the server does; a number's every report after its first follows its
    DELETE (a flood script's way to a new conversation each time). Everything is signed before the clock
    starts. Puts {reports, requests, errors, elapsed_s, late_p50_ms} on `results`.
    """
    parsed = urlparse(url)
    host = parsed.netloc
    rng = random.Random(7)
    total = int(rate * seconds / 60)
    jobs = []
    for i in range(total):
        number = f"+1909555{i % numbers:04d}"
        batch = [signed_request(host, PUBLIC_URL, TOKEN, ACCOUNT_SID, number, "delete")] if i >= numbers else []
        batch.append(signed_request(host, PUBLIC_URL, TOKEN, ACCOUNT_SID, number, report_text(*city_point(rng))))
        jobs.append(batch)
    interval = 60.0 / rate
    counter = itertools.count()
    lock = threading.Lock()
    late: list[float] = []
    tally = {"reports": 0, "requests": 0, "errors": 0}
    start = time.perf_counter() + 0.1
    cpu0 = time.process_time()  # the sending's, not the signing's
    started.set()

    def sender() -> None:
        conn = Connection(parsed.hostname, parsed.port)
        mine, my_late = {"reports": 0, "requests": 0, "errors": 0}, []
        while (i := next(counter)) < total:
            due = start + i * interval
            if due > time.perf_counter():
                time.sleep(due - time.perf_counter())
            my_late.append((time.perf_counter() - due) * 1000)
            for request in jobs[i]:
                mine["errors"] += conn.exchange(request) != 200
                mine["requests"] += 1
            mine["reports"] += 1
        conn.close()
        with lock:
            late.extend(my_late)
            for key, value in mine.items():
                tally[key] += value

    threads = [threading.Thread(target=sender) for _ in range(FLOOD_SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    late.sort()
    results.put(
        {
            **tally,
            "elapsed_s": round(time.perf_counter() - start, 2),
            "late_p50_ms": round(late[len(late) // 2], 1) if late else None,
            "cpu_s": time.process_time() - cpu0,
        }
    )


def genuine(args, redis, fake: Fake, data_dir: str) -> dict:
    """A genuine report's first dispatch, idle then under an HTTP flood, against gunicorn (the Procfile's
    settings) and `worker.py`, both from the tree of `--rev` (this checkout by default)."""
    tree = export_tree(args.rev, Path(tempfile.mkdtemp(prefix="hotline-flood-tree-"))) if args.rev else ROOT
    env = hotline_env(
        redis.url,
        fake.url,
        data_dir,
        source=tree,
        HOTLINE_COORDINATORS=COORDINATOR,
        HOTLINE_WAVE_SIZE="3",
        HOTLINE_WAVE_TIMEOUT_S="3600",
        **dict(item.split("=", 1) for item in args.set),
    )
    settings = Settings.from_env(env)
    rt = create_app(settings).extensions["hotline"]
    rt.r.flushdb()
    clear_fake(fake)
    fake.latency(args.twilio_ms)
    roster = city_roster(rt, settings, genuine=2 * args.samples)
    beside = roster[-2 * args.samples :]
    port = args.port or store.free_port()
    url = f"http://127.0.0.1:{port}"
    web = gunicorn("bot:create_app()", port, 3, 2, env, tree)
    conn = Connection("127.0.0.1", port)

    def post(from_: str, body: str) -> None:
        request = signed_request(f"127.0.0.1:{port}", PUBLIC_URL, TOKEN, ACCOUNT_SID, from_, body)
        assert conn.exchange(request) == 200

    try:
        with running(env, tree) as worker:
            wait_ready(url, web)
            for i in range(6):  # warm: every gunicorn worker imports and connects lazily
                post(f"+1323555{i:04d}", "hi")
            idle_answer: list[float] = []
            flood_answer: list[float] = []
            idle = [genuine_latency(post, fake, beside[n], n, idle_answer) for n in range(args.samples)]
            ctx = multiprocessing.get_context("fork")
            started, results = ctx.Event(), ctx.Queue()
            flood = ctx.Process(target=http_flood, args=(url, args.rate, args.numbers, args.flood_s, started, results))
            measured = {
                "web": family(web.pid),
                "worker": family(worker.pid),
                "redis": [redis.process.pid],
                "fake_twilio": [fake.proc.pid],
            }
            cpu_before = {name: cpu_s(pids) for name, pids in measured.items()}
            flood.start()
            started.wait()
            t0 = time.monotonic()
            time.sleep(min(3.0, args.flood_s / 4))  # let the flood build up first
            flooded = []
            for n in range(args.samples, 2 * args.samples):
                flooded.append(genuine_latency(post, fake, beside[n], n, flood_answer))
                time.sleep(max(0.0, (args.flood_s * 0.6) / args.samples - 0.5))
            sent = results.get()
            flood.join()
            cpu_ms = {name: (cpu_s(pids) - cpu_before[name]) * 1000 for name, pids in measured.items()}
            cpu_ms["flood_sender"] = sent["cpu_s"] * 1000  # the load generator itself, on the same cores
            seconds = time.monotonic() - t0
            row = tally("genuine", settle(fake, rt), roster, rt, sent["reports"], seconds)
            row.update(
                {
                    "rev": args.rev or "HEAD",
                    "twilio_ms": args.twilio_ms,
                    "settings": args.set,
                    "flood_rate_per_min_asked": args.rate,
                    "flood_rate_per_min_sent": round(sent["reports"] / sent["elapsed_s"] * 60),
                    "flood_numbers": args.numbers,
                    "flood_requests": sent["requests"],
                    "flood_non_200": sent["errors"],
                    "flood_send_late_p50_ms": sent["late_p50_ms"],
                    "idle_ms": [round(x, 1) for x in idle],
                    "flood_ms": [round(x, 1) for x in flooded],
                    "idle_median_ms": round(statistics.median(idle), 1),
                    "flood_median_ms": round(statistics.median(flooded), 1),
                    "flood_max_ms": round(max(flooded), 1),
                    "webhook_answer_idle_ms": [round(x, 1) for x in idle_answer],
                    "webhook_answer_flood_ms": [round(x, 1) for x in flood_answer],
                    # CPU per flood report (its DELETE included) while the flood ran, by process kind
                    "cpu_ms_per_report": {k: round(v / sent["reports"], 2) for k, v in cpu_ms.items()},
                    "cores_busy": round(sum(cpu_ms.values()) / 1000 / sent["elapsed_s"], 2),
                }
            )
            return row
    finally:
        conn.close()
        web.terminate()
        web.wait(timeout=15)


SCENARIOS = {"one_number": one_number, "trap": trap, "city": city, "unplaced": unplaced}
WEB_SCENARIOS = {"webchat_one_client": webchat_one_client, "webchat_trap": webchat_trap, "webchat_city": webchat_city}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join([*SCENARIOS, *WEB_SCENARIOS, "genuine"]))
    parser.add_argument("--rate", type=float, default=10_000, help="flood reports a minute for `genuine`")
    parser.add_argument("--numbers", type=int, default=1000, help="numbers the `genuine` flood comes from")
    parser.add_argument("--flood-s", type=float, default=20.0, help="how long the `genuine` flood runs")
    parser.add_argument("--samples", type=int, default=5, help="genuine reports, idle and under flood each")
    parser.add_argument("--rev", default="", help="`genuine`: run gunicorn and the worker from this commit's tree")
    parser.add_argument("--port", type=int, default=0, help="`genuine`: gunicorn's port (default: a free one)")
    parser.add_argument("--twilio-ms", type=float, default=0, help="`genuine`: the fake Twilio answers this late")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="`genuine`: a setting for web and worker"
    )
    args = parser.parse_args()
    wanted = args.only.split(",")
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)  # a line per 429 otherwise

    with services("hotline-flood-") as (redis, fake, data_dir):
        env = env_for(redis.url, fake.url, data_dir, HOTLINE_COORDINATORS=COORDINATOR)
        env["HOTLINE_WAVE_SIZE"] = "3"  # the default wave, not bench/dispatch.py's one observer
        settings = Settings.from_env(env)
        app = create_app(settings)
        rt = app.extensions["hotline"]
        web_app = create_app(settings.replace(proxy_hops=1))  # the web chat behind one reverse proxy
        in_process = [w for w in wanted if w in SCENARIOS or w in WEB_SCENARIOS]
        if in_process:
            with running(env):
                for name in in_process:
                    rt.r.flushdb()
                    clear_fake(fake)
                    roster = city_roster(rt, settings)
                    script = WebScript(web_app)
                    t0 = time.monotonic()
                    if name in SCENARIOS:
                        sent = SCENARIOS[name](Reporter(app, settings), random.Random(1))
                    else:
                        sent = WEB_SCENARIOS[name](script, random.Random(1))
                    seconds = time.monotonic() - t0
                    row = tally(name, settle(fake, rt), roster, rt, sent, seconds)
                    if name in WEB_SCENARIOS:
                        row["client_got"] = dict(sorted(script.answers.items()))
                    print(json.dumps(row), flush=True)
        if "genuine" in wanted:
            print(json.dumps(genuine(args, redis, fake, data_dir)), flush=True)


if __name__ == "__main__":
    main()
