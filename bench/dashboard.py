"""Benchmark: the Twilio webhook's throughput with 50 coordinators' consoles open on `/dashboard/events`, vs none.

The hotline runs under gunicorn with the Procfile's worker settings (read from
the Procfile's `web:` line), its own embedded Redis and the fake Twilio — the
setup of bench/webhook.py, whose helpers this reuses. The webhook load is
bench/loadgen.py's closed loop (signed `POST /twilio/messages`, one new
conversation per request). The consoles are a separate process: N logged-in
coordinators, each an EventSource client (`Last-Event-ID` cursor, reconnect
after the `retry:` the server sends), so each holds the stream open exactly as
a browser does. Rounds alternate "no consoles" and "N consoles"; medians shown.

    python bench/dashboard.py                          # 50 consoles, 8 s per run, 3 rounds
    python bench/dashboard.py --consoles 50 --duration 8 --rounds 3

Target (console issue): 50 open consoles must not slow the webhook (ratio close to 1).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webhook  # noqa: E402  (bench/webhook.py: env, gunicorn, readiness, load generator runs)

from bot import store  # noqa: E402
from bot.fake_twilio import FakeTwilioServer  # noqa: E402

COORDINATOR = "bench-coordinator"
PASSWORD = "bench-password-123"
_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def procfile_workers(procfile: Path = ROOT / "Procfile") -> tuple[int, int]:
    """Read gunicorn's workers and threads from the Procfile's web line (`${WEB_CONCURRENCY:-3}` → 3)."""
    line = next(x for x in procfile.read_text().splitlines() if x.startswith("web:"))
    workers = re.search(r"--workers\s+(?:\$\{\w+:-)?(\d+)", line)
    threads = re.search(r"--threads\s+(\d+)", line)
    return int(workers.group(1)) if workers else 1, int(threads.group(1)) if threads else 1


def add_coordinator(env: dict) -> None:
    """Create the bench's console login with the real CLI (`hotline coordinators add`, password on stdin)."""
    subprocess.run(
        [sys.executable, "-m", "bot", "coordinators", "add", COORDINATOR, "--role", "dispatcher"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def login(url: str) -> str:
    """Log in through the real form (CSRF token and all); return the Cookie header of the session."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    conn.request("GET", "/dashboard/login")
    page = conn.getresponse()
    html = page.read().decode()
    jar = SimpleCookie()
    for value in page.headers.get_all("Set-Cookie") or []:
        jar.load(value)
    found = _CSRF_RE.search(html)
    if not found:
        raise RuntimeError("no csrf_token on the login page")
    body = urlencode({"username": COORDINATOR, "password": PASSWORD, "csrf_token": found.group(1) or found.group(2)})
    cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items())
    conn.request(
        "POST",
        "/dashboard/login",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Referer": url},
    )
    answer = conn.getresponse()
    answer.read()
    if answer.status not in (302, 303):
        raise RuntimeError(f"login refused: {answer.status}")
    for value in answer.headers.get_all("Set-Cookie") or []:
        jar.load(value)
    conn.close()
    return "; ".join(f"{k}={m.value}" for k, m in jar.items())


_ID_RE = re.compile(r"^id: (.+)$", re.M)
_RETRY_RE = re.compile(r"^retry: (\d+)$", re.M)


def run_consoles(url: str, cookie: str, count: int, seconds: float) -> dict:
    """Be `count` EventSource clients for `seconds`: reconnect after `retry`, send `Last-Event-ID`."""
    parsed = urlparse(url)
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    totals = {"responses": 0, "errors": 0, "ms": []}

    def console():
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        cursor, retry_s, mine, bad, ms = None, 1.0, 0, 0, []
        while time.monotonic() < stop:
            headers = {"Cookie": cookie, "Accept": "text/event-stream"}
            if cursor:
                headers["Last-Event-ID"] = cursor
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/dashboard/events", headers=headers)
                answer = conn.getresponse()
                body = answer.read().decode()
            except (OSError, http.client.HTTPException):
                conn.close()
                bad += 1
                time.sleep(retry_s)
                continue
            ms.append((time.perf_counter() - t0) * 1000)
            if answer.status != 200 or "text/event-stream" not in answer.headers.get("Content-Type", ""):
                bad += 1
            mine += 1
            ids = _ID_RE.findall(body)
            cursor = ids[-1] if ids else cursor
            retry = _RETRY_RE.search(body)
            retry_s = int(retry.group(1)) / 1000 if retry else retry_s
            time.sleep(retry_s)
        conn.close()
        with lock:
            totals["responses"] += mine
            totals["errors"] += bad
            totals["ms"].extend(ms)

    threads = [threading.Thread(target=console, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = sorted(totals.pop("ms"))
    totals["per_s"] = totals["responses"] / seconds
    totals["p50_ms"] = ms[len(ms) // 2] if ms else float("nan")
    totals["p99_ms"] = ms[int(len(ms) * 0.99)] if ms else float("nan")
    return totals


def consoles_process(url: str, cookie: str, count: int, seconds: float) -> subprocess.Popen:
    """Start the consoles in their own process (they are other people's phones, not the server's threads)."""
    return subprocess.Popen(
        [sys.executable, __file__, "consoles", url, cookie, str(count), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "consoles":
        url, cookie, count, seconds = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
        print(json.dumps(run_consoles(url, cookie, count, seconds)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consoles", type=int, default=50, help="open consoles during the loaded runs")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians shown")
    parser.add_argument("--connections", type=int, default=16, help="webhook connections (closed loop)")
    parser.add_argument("--processes", type=int, default=2, help="webhook load generator processes")
    args = parser.parse_args()
    args.rate = 300.0  # unused by the closed loop; loadgen wants one
    workers, threads = procfile_workers()
    webhook.READY_TIMEOUT_S = 120.0  # three workers importing at once on a busy 2-core machine

    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-dashboard-"))
    redis_server = store.start_embedded(tmp, appendonly=False)
    fake = FakeTwilioServer().start()
    env = webhook.hotline_env(redis_server.url, fake.url, str(tmp / "var"))
    port = store.free_port()
    url = f"http://127.0.0.1:{port}"
    print(
        f"gunicorn -w {workers} --threads {threads} (from the Procfile); {args.consoles} consoles; "
        f"{args.duration:g} s runs x {args.rounds} rounds; load average before: {webhook.load_average()}",
        flush=True,
    )
    server = None
    runs: dict[str, list[float]] = {"none": [], "consoles": []}
    console_stats = []
    try:
        add_coordinator(env)
        server = webhook.gunicorn("bot:create_app()", port, workers, threads, env, ROOT)
        webhook.wait_ready(url, server)
        cookie = login(url)
        webhook.load("max", url, args, seed=900, duration=webhook.WARMUP_S)  # warm every worker and thread
        seed = 0
        for _ in range(args.rounds):
            for mode in ("none", "consoles"):
                seed += 1
                consoles = (
                    consoles_process(url, cookie, args.consoles, args.duration + 2) if mode == "consoles" else None
                )
                if consoles:
                    time.sleep(1.0)  # let every console connect before the clock starts
                result = webhook.load("max", url, args, seed=seed)
                runs[mode].append(result["rps"])
                if consoles:
                    out, _ = consoles.communicate(timeout=args.duration + 30)
                    console_stats.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        fake.stop()
        redis_server.stop()
    none, with_consoles = statistics.median(runs["none"]), statistics.median(runs["consoles"])
    served = statistics.median(s["per_s"] for s in console_stats)
    errors = sum(s["errors"] for s in console_stats)
    p99 = statistics.median(s["p99_ms"] for s in console_stats)
    print(f"\nwebhook max req/s, no consoles:        {none:7.0f}   rounds {[round(x) for x in runs['none']]}")
    print(
        f"webhook max req/s, {args.consoles} consoles open:  {with_consoles:7.0f}   "
        f"rounds {[round(x) for x in runs['consoles']]}"
    )
    print(f"ratio: {with_consoles / none:.2f}")
    print(f"consoles: {served:.0f} event responses/s served, {errors} errors, p99 {p99:.1f} ms per response")
    print(
        f"\ncommand: python bench/dashboard.py --consoles {args.consoles} --duration {args.duration:g} "
        f"--rounds {args.rounds} --connections {args.connections} --processes {args.processes}"
    )


if __name__ == "__main__":
    main()
