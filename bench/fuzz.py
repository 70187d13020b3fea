"""Drill: a big deterministic corpus of signed hostile webhooks against gunicorn; 0 5xx, 0 dead workers.

The corpus is tests/hostile.py's (the same one tests/test_fuzz.py sends in-process),
sent over HTTP to `gunicorn -w 3 --threads 2 'bot:create_app()'` (the Procfile's
web line) with its own embedded Redis and the fake Twilio. Gunicorn logs at info,
so every worker it had to boot again after the first three is a dead worker;
tracebacks are counted in its log too.

    python bench/fuzz.py                     # 30,000 requests, 4 client threads
    python bench/fuzz.py --count 100000 --seed 11
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from hostile import corpus  # noqa: E402  (tests/hostile.py: the one corpus generator)
from webhook import ACCOUNT_SID, PUBLIC_URL, TOKEN, hotline_env, wait_ready  # noqa: E402

from bot import store  # noqa: E402
from bot.fake_twilio import FakeTwilioServer  # noqa: E402

WORKERS = 3
"""Gunicorn workers, as in the Procfile."""


def send_all(port: int, requests: list, threads: int) -> tuple[Counter, list[int]]:
    """Send the requests over keep-alive connections from a few threads; count statuses."""
    statuses: Counter = Counter()
    failed: list[int] = []
    lock = threading.Lock()

    def run(part: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for index in range(part, len(requests), threads):
            req = requests[index]
            body = urlencode(req.form)
            headers = {**req.headers, "Content-Type": "application/x-www-form-urlencoded"}
            try:
                conn.request("POST", req.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):  # a connection cut by a dying worker
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            with lock:
                statuses[status] += 1
                if status == 0 or status >= 500:
                    failed.append(index)
        conn.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return statuses, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="hotline-fuzz-")
    redis = store.start_embedded(data_dir, appendonly=False)
    fake = FakeTwilioServer().start()
    port = store.free_port()
    log_path = Path(data_dir) / "gunicorn.log"
    env = hotline_env(redis.url, fake.url, data_dir)
    requests = list(
        corpus(
            args.count,
            auth_token=TOKEN,
            public_url=PUBLIC_URL,
            account_sid=ACCOUNT_SID,
            to="+13105550100",
            seed=args.seed,
        )
    )
    with open(log_path, "w") as log_file:  # at info (bench/webhook.py's gunicorn() logs warnings only)
        cmd = [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "--threads", "2", "--timeout", "15"]
        cmd += ["-b", f"127.0.0.1:{port}", "--chdir", str(ROOT), "--log-level", "info", "bot:create_app()"]
        server = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=log_file)
        try:
            wait_ready(f"http://127.0.0.1:{port}", server)
            started = time.monotonic()
            statuses, failed = send_all(port, requests, args.threads)
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
            fake.stop()
            redis.stop()
    log_text = log_path.read_text(errors="replace")
    boots = log_text.count("Booting worker")
    print(
        json.dumps(
            {
                "requests": args.count,
                "seed": args.seed,
                "seconds": round(elapsed, 1),
                "statuses": dict(sorted(statuses.items())),
                "5xx_or_cut": len(failed),
                "first_failed": failed[:10],
                "dead_workers": max(0, boots - WORKERS),
                "tracebacks": log_text.count("Traceback"),
            }
        )
    )


if __name__ == "__main__":
    main()
