"""Benchmark: the hotline's `POST /twilio/messages` against a bare Flask endpoint, side by side.

Both apps run under gunicorn with the same settings; the hotline has its own
embedded Redis (no append-only file) and a fake Twilio, exactly as in the demo.
Load comes from bench/loadgen.py in separate processes: every request signed
with twilio's RequestValidator, each one a new conversation (new From, new
MessageSid). For each gunicorn setting it measures the maximum throughput
(closed loop) and p50/p99 latency at a fixed rate (open loop, 300 req/s).

    python bench/webhook.py                       # -w 3 --threads 2 (fastest here), 10 s per run
    python bench/webhook.py --configs 3x2,2x4 --duration 8 --rounds 3 --at HEAD --profile

Targets (issue 2, "Speed"): hotline >= 50% of bare throughput; p99 < 50 ms at 300 req/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import store  # noqa: E402  (the repository root must be importable first)
from bot.fake_twilio import FakeTwilioServer  # noqa: E402

TOKEN = "bench-auth-token"
ACCOUNT_SID = "AC" + "b" * 32
PUBLIC_URL = "https://bench.hotline.test"
WARMUP_S = 4.0
"""Seconds of unmeasured load per app before measuring."""
READY_TIMEOUT_S = 30.0
"""How long a gunicorn gets to answer its first request (imports, flows, catalogs)."""


def export_tree(rev: str, into: Path) -> Path:
    """Check out a commit's files into a folder (git archive), to bench exactly that commit."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def hotline_env(redis_url: str, fake_url: str, data_dir: str, source: Path = ROOT, **extra: str) -> dict[str, str]:
    """The environment of a hotline process in every bench: its own Redis, the fake Twilio, a signing token,
    PUBLIC_URL, plus `extra` variables; nothing of the caller's own HOTLINE_/TWILIO_/REDIS_ settings leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_", "REDIS_"))}
    env.update(
        {
            "HOTLINE_ENV": "development",
            "REDIS_URL": redis_url,
            "HOTLINE_DATA_DIR": data_dir,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_NUMBER": "+13105550100",
            "TWILIO_API_BASE": fake_url,
            "PUBLIC_URL": PUBLIC_URL,
            "HOTLINE_SECRET": "bench-secret",
            "HOTLINE_FLOWS_DIR": str(source / "flows"),
            "HOTLINE_LOCALES_DIR": str(source / "locales"),
            **extra,
        }
    )
    return env


def gunicorn(app: str, port: int, workers: int, threads: int, env: dict, chdir: Path) -> subprocess.Popen:
    """Start one gunicorn on loopback with the given worker settings."""
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
        "--chdir",
        str(chdir),
        "--log-level",
        "warning",
        "--keep-alive",
        "5",
        app,
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=None)


def wait_ready(url: str, process: subprocess.Popen) -> None:
    """Poll until the server answers any HTTP status (readiness with a deadline)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).close()
            return
        except urllib.error.HTTPError:  # 503 "no observer on duty" still means it is up
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {READY_TIMEOUT_S} s") from None
            time.sleep(0.1)


def probe_twiml(url: str) -> str:
    """Send one signed first message to the hotline and return its TwiML (for the bare app)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from urllib.parse import urlparse

    from loadgen import Connection, signed_requests

    parsed = urlparse(url)
    request = signed_requests(parsed.netloc, PUBLIC_URL, TOKEN, ACCOUNT_SID, 1, seed=999)[0]
    conn = Connection(parsed.hostname, parsed.port)
    conn.sock = conn._connect()
    conn.sock.sendall(request)
    data = b""
    while b"</Response>" not in data and b"<Response/>" not in data:
        chunk = conn.sock.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(f"hotline refused the probe: {head.splitlines()[0]!r}")
    return body.decode()


def load(mode: str, url: str, args, seed: int, duration: float | None = None) -> dict:
    """Run bench/loadgen.py in its own process and return its JSON result."""
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "loadgen.py"),
        mode,
        "--url",
        url,
        "--public-url",
        PUBLIC_URL,
        "--token",
        TOKEN,
        "--account-sid",
        ACCOUNT_SID,
        "--duration",
        str(duration or args.duration),
        "--rate",
        str(args.rate),
        "--connections",
        str(args.connections),
        "--processes",
        str(args.processes),
        "--seed",
        str(seed),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_config(
    workers: int, threads: int, args, env: dict, redis_client, tmp: Path, seed: int, source: Path = ROOT
) -> dict:
    """Measure hotline and bare under one gunicorn setting; return both results."""
    hot_port, bare_port = store.free_port(), store.free_port()
    procs = []
    try:
        hot = gunicorn("bot:create_app()", hot_port, workers, threads, env, source)
        procs.append(hot)
        hot_url = f"http://127.0.0.1:{hot_port}"
        wait_ready(hot_url, hot)
        twiml_file = tmp / "twiml.xml"
        twiml = probe_twiml(hot_url)
        twiml_file.write_text(twiml, encoding="utf-8")
        print(f"  hotline's first reply (served by both apps): {twiml[twiml.find('<Response>') :][:110]}…")
        bare = gunicorn(
            "bare_app:create_app()",
            bare_port,
            workers,
            threads,
            {**env, "BARE_TWIML_FILE": str(twiml_file)},
            ROOT / "bench",
        )
        procs.append(bare)
        bare_url = f"http://127.0.0.1:{bare_port}"
        wait_ready(bare_url, bare)
        for url in (hot_url, bare_url):
            # Warm every worker and thread (lazy imports, flow and catalog loading, the
            # ZIP table): a long-running gunicorn pays these once, not per request.
            load("max", url, args, seed=900 + seed, duration=WARMUP_S)
        runs: dict[tuple[str, str], list[dict]] = {}
        # Rounds alternate hotline and bare, so a burst of other load on the machine
        # hits both; the median of the rounds is reported.
        for _ in range(args.rounds):
            for mode in ("max", "rate"):
                for name, url in (("hotline", hot_url), ("bare", bare_url)):
                    redis_client.flushdb()  # every run starts from the same empty state
                    seed += 1
                    spies = (
                        profile_workers(hot, tmp, args.duration)
                        if args.profile and name == "hotline" and mode == "max" and not runs.get((name, mode))
                        else []
                    )
                    runs.setdefault((name, mode), []).append(load(mode, url, args, seed))
                    if spies:
                        print_profile(spies)
        results = {key: median_run(key[1], found) for key, found in runs.items()}
        return results
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def profile_workers(master: subprocess.Popen, tmp: Path, duration: float) -> list[tuple[subprocess.Popen, Path]]:
    """Attach py-spy to each gunicorn worker of `master` for the coming measurement."""
    pids = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()
    spies = []
    for pid in pids:
        out = tmp / f"pyspy-{pid}.txt"
        spies.append(
            (
                subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "-p",
                        pid,
                        "-d",
                        str(int(duration)),
                        "-r",
                        "250",
                        "-f",
                        "raw",
                        "--gil",
                        "--nonblocking",
                        "-o",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
                out,
            )
        )
    return spies


def print_profile(spies, top: int = 25) -> None:
    """Summarize py-spy's collapsed stacks: where the hotline's workers spend their time."""
    inclusive: dict[str, int] = {}
    self_time: dict[str, int] = {}
    total = 0
    for proc, out in spies:
        proc.wait(timeout=120)
        if not out.exists():
            continue
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            n = int(count)
            frames = stack.split(";")
            total += n
            leaf = frames[-1]
            self_time[leaf] = self_time.get(leaf, 0) + n
            for frame in set(frames):
                if "(bot/" in frame:
                    inclusive[frame] = inclusive.get(frame, 0) + n
    if not total:
        print("py-spy recorded nothing (is it installed and allowed to ptrace?)")
        return
    print(f"\npy-spy: {total} samples over the hotline's workers (only threads holding the GIL: CPU spent in Python)")
    print("inclusive, hotline code (bot/):")
    for frame, n in sorted(((f, n) for f, n in inclusive.items()), key=lambda x: -x[1])[:top]:
        print(f"  {n / total:6.1%}  {frame}")
    print("self time:")
    for frame, n in sorted(self_time.items(), key=lambda x: -x[1])[:top]:
        print(f"  {n / total:6.1%}  {frame}")


def load_average() -> str:
    """The machine's 1-minute load average: other work on a 2-core box skews every number."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:  # not Linux
        return "?"


def median_run(mode: str, found: list[dict]) -> dict:
    """Pick the median run: by throughput for max, by p99 for the fixed rate."""
    metric = "rps" if mode == "max" else "p99_ms"
    ranked = sorted(found, key=lambda run: run[metric])
    chosen = dict(ranked[len(ranked) // 2])
    chosen["all_" + metric] = [run[metric] for run in found]
    return chosen


def print_table(rows: list[tuple[str, dict]], args) -> None:
    print()
    print(
        f"{'gunicorn':<22} {'app':<8} {'max req/s':>9} {'errors':>6} | "
        f"{'@' + str(int(args.rate)) + ' req/s: p50 ms':>20} {'p99 ms':>7} {'errors':>6}"
    )
    for setting, results in rows:
        for name in ("hotline", "bare"):
            top, fixed = results[(name, "max")], results[(name, "rate")]
            print(
                f"{setting if name == 'hotline' else '':<22} {name:<8} {top['rps']:>9.0f} {top['errors']:>6} | "
                f"{fixed['p50_ms']:>20.1f} {fixed['p99_ms']:>7.1f} {fixed['errors']:>6}"
            )
        share = results[("hotline", "max")]["rps"] / max(results[("bare", "max")]["rps"], 1e-9)
        p99 = results[("hotline", "rate")]["p99_ms"]
        verdict = "OK" if share >= 0.5 and p99 < 50 else "MISSES TARGET"
        print(
            f"{'':<22} hotline = {share:.0%} of bare throughput; p99 at {int(args.rate)} req/s "
            f"= {p99:.1f} ms  [{verdict}]"
        )
        if args.rounds > 1:
            for name in ("hotline", "bare"):
                print(
                    f"{'':<22} {name} rounds: max req/s {results[(name, 'max')]['all_rps']}, "
                    f"p99 ms {results[(name, 'rate')]['all_p99_ms']}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", default="3x2", help="comma-separated WORKERSxTHREADS gunicorn settings (e.g. 2x4,3x1,4x2)"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--rate", type=float, default=300.0, help="fixed request rate for latency")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections, max mode")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes, max mode")
    parser.add_argument(
        "--at", metavar="REV", help="bench this commit (git archive into a temp folder) instead of the working tree"
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; the median is shown")
    parser.add_argument("--json", action="store_true", help="also print raw results as JSON")
    parser.add_argument(
        "--profile", action="store_true", help="attach py-spy to the hotline's workers during its max-throughput run"
    )
    args = parser.parse_args()
    configs = [tuple(int(x) for x in c.lower().split("x")) for c in args.configs.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    redis_server = store.start_embedded(tmp, appendonly=False)
    fake = FakeTwilioServer().start()
    source = export_tree(args.at, tmp / "src") if args.at else ROOT
    env = hotline_env(redis_server.url, fake.url, str(tmp / "var"), source)
    redis_client = store.connect(redis_server.url)
    if args.at:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", args.at], capture_output=True, text=True
        ).stdout.strip()
        print(f"hotline code: commit {rev} ({source})")
    print(
        f"cpus={os.cpu_count()} redis={redis_server.url} fake-twilio={fake.url} "
        f"duration={args.duration}s rate={args.rate}/s connections={args.connections}"
    )
    rows = []
    try:
        for i, (workers, threads) in enumerate(configs):
            setting = f"-w {workers} --threads {threads}"
            print(f"measuring {setting} ... (load average before: {load_average()})", flush=True)
            rows.append(
                (setting, run_config(workers, threads, args, env, redis_client, tmp, seed=i * 10, source=source))
            )
    finally:
        fake.stop()
        redis_server.stop()
    print_table(rows, args)
    print(
        f"\ncommand: python bench/webhook.py --configs {args.configs} --duration {args.duration:g} "
        f"--rate {args.rate:g} --connections {args.connections} --processes {args.processes} "
        f"--rounds {args.rounds}" + (f" --at {args.at}" if args.at else "")
    )
    if args.json:
        print(json.dumps([{"gunicorn": s, **{f"{n}_{m}": v for (n, m), v in r.items()}} for s, r in rows]))


if __name__ == "__main__":
    main()
