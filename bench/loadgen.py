"""Load generator for bench/webhook.py: uniquely signed Twilio webhooks over keep-alive sockets.

Run as its own process (so it never shares a GIL with the servers it measures).
Every request is a new conversation: a fresh `From` number and `MessageSid`,
signed with twilio's RequestValidator exactly as Twilio signs it. Requests are
signed before the clock starts; the timed loop only writes bytes and reads the
answer (raw sockets: http.client would cost the generator more CPU than the
server it measures on a 2-core machine).

Two modes, printed as one JSON line:
  max   closed loop, N connections each sending as fast as answers come back
  rate  open loop at a fixed rate; latency is measured from each request's
        scheduled time, so a stalled server cannot hide its queue
        (no coordinated omission)
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import re
import socket
import threading
import time
import uuid
from urllib.parse import urlencode, urlparse

from twilio.request_validator import RequestValidator

PATH = "/twilio/messages"
FIRST_TEXTS = (
    "Hi",
    "hola, hay migra en Pacific y Florence ahora",
    "I see two vans with agents near the school",
    "migra en la 3 y Main",
)
"""First messages of a conversation, English and Spanish, some pre-filling a report."""

_CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_CLOSE = re.compile(rb"(?i)\r\nconnection:\s*close")


def inbound_form(account_sid: str, from_: str, to: str, body: str, **extra) -> dict[str, str]:
    """The form Twilio posts for one inbound text, with a fresh MessageSid (every bench builds it here)."""
    params = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": account_sid,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    params.update({k: str(v) for k, v in extra.items()})
    return params


class SignedPoster:
    """Signed inbound webhooks into a Flask test client, exactly as Twilio signs them (in-process benches)."""

    def __init__(self, client, token: str, public_url: str, account_sid: str, to: str):
        self.client, self.public_url, self.account_sid, self.to = client, public_url.rstrip("/"), account_sid, to
        self.validator = RequestValidator(token)

    def text(self, from_: str, body: str, **extra):
        """Post one inbound text from `from_` and return the test client's response."""
        params = inbound_form(self.account_sid, from_, self.to, body, **extra)
        signature = self.validator.compute_signature(self.public_url + PATH, params)
        return self.client.post(PATH, data=params, headers={"X-Twilio-Signature": signature})


def signed_request(host: str, public_url: str, token: str, account_sid: str, from_: str, body: str) -> bytes:
    """One signed HTTP/1.1 request of an inbound text, as Twilio would post it (raw bytes for `Connection`)."""
    params = inbound_form(account_sid, from_, "+13105550100", body)
    form = urlencode(params).encode()
    signature = RequestValidator(token).compute_signature(public_url.rstrip("/") + PATH, params)
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\n"
        f"Content-Length: {len(form)}\r\n\r\n"
    ).encode()
    return head + form


def signed_requests(host: str, public_url: str, token: str, account_sid: str, count: int, seed: int) -> list[bytes]:
    """Build `count` distinct signed HTTP/1.1 requests, each a new conversation."""
    return [
        signed_request(
            host,
            public_url,
            token,
            account_sid,
            "+1" + str(2_000_000_000 + seed * 10_000_000 + i),
            FIRST_TEXTS[i % len(FIRST_TEXTS)],
        )
        for i in range(count)
    ]


class Connection:
    """One keep-alive HTTP/1.1 connection that reconnects when the server closes it."""

    def __init__(self, host: str, port: int):
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        return sock

    def exchange(self, request: bytes) -> int:
        """Send one request and read its whole answer; return the HTTP status."""
        for attempt in (1, 2):
            if self.sock is None:
                self.sock = self._connect()
            try:
                self.sock.sendall(request)
                return self._read()
            except (TimeoutError, ConnectionError, ValueError):
                self.close()
                if attempt == 2:
                    return 0
        return 0

    def _read(self) -> int:
        data = self.buffer
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before answering")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(_CONTENT_LENGTH.search(head).group(1))
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            rest += chunk
        self.buffer = rest[length:]
        status = int(head[9:12])
        if _CLOSE.search(head):
            self.close()
        return status

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, int(round(p / 100 * (len(sorted_ms) - 1))))]


def _send_all(url: str, connections: int, next_request) -> tuple[list[float], int]:
    """Run `connections` keep-alive connections, each sending `next_request()` until it returns None.

    `next_request` returns (request bytes, the perf_counter time it was due); latency counts from then.
    Returns every latency (ms) and the number of answers that were not 200.
    """
    parsed = urlparse(url)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]

    def worker():
        conn = Connection(parsed.hostname, parsed.port)
        mine, bad = [], 0
        while (job := next_request()) is not None:
            request, due = job
            status = conn.exchange(request)
            mine.append((time.perf_counter() - due) * 1000)
            bad += status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def _run_max(url: str, requests: list[bytes], connections: int, duration_s: float, start_at: float) -> dict:
    """Closed loop: every connection sends its next request as soon as the last one is answered."""
    pool = iter(requests)
    lock = threading.Lock()
    exhausted = [False]
    deadline = start_at + duration_s

    def next_request():
        while time.time() < start_at:
            time.sleep(0.001)
        if time.time() >= deadline:
            return None
        with lock:
            request = next(pool, None)
        if request is None:
            exhausted[0] = True
            return None
        return request, time.perf_counter()

    latencies, errors = _send_all(url, connections, next_request)
    elapsed = min(time.time(), deadline) - start_at if not exhausted[0] else time.time() - start_at
    return {
        "sent": len(latencies),
        "errors": errors,
        "elapsed_s": elapsed,
        "latencies": latencies,
        "exhausted": exhausted[0],
    }


def _run_rate(url: str, requests: list[bytes], rate: float, duration_s: float, workers: int) -> dict:
    """Open loop: request i is due at start + i/rate; latency counts from when it was due."""
    total = min(len(requests), int(rate * duration_s))
    counter = itertools.count()
    start = time.perf_counter() + 0.2

    def next_request():
        i = next(counter)  # itertools.count is atomic under the GIL
        if i >= total:
            return None
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        return requests[i], due

    latencies, errors = _send_all(url, workers, next_request)
    elapsed = time.perf_counter() - start
    return {"sent": len(latencies), "errors": errors, "elapsed_s": elapsed, "latencies": latencies, "exhausted": False}


def _max_process(args, index: int, ready, go, results) -> None:
    requests = signed_requests(
        urlparse(args.url).netloc, args.public_url, args.token, args.account_sid, args.pool, args.seed * 10 + index
    )
    ready.put(index)
    go.wait()  # every process starts sending at the same instant, after all have signed
    results.put(_run_max(args.url, requests, args.connections // args.processes, args.duration, time.time() + 0.05))


def summarize(mode: str, parts: list[dict]) -> dict:
    """Merge per-process results into throughput and latency percentiles."""
    latencies = sorted(ms for part in parts for ms in part["latencies"])
    sent = sum(part["sent"] for part in parts)
    elapsed = max(part["elapsed_s"] for part in parts)
    return {
        "mode": mode,
        "sent": sent,
        "errors": sum(part["errors"] for part in parts),
        "elapsed_s": round(elapsed, 2),
        "rps": round(sent / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(_percentile(latencies, 50), 2),
        "p90_ms": round(_percentile(latencies, 90), 2),
        "p99_ms": round(_percentile(latencies, 99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "exhausted": any(part["exhausted"] for part in parts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("max", "rate"))
    parser.add_argument("--url", required=True, help="where to send, e.g. http://127.0.0.1:8001")
    parser.add_argument("--public-url", required=True, help="PUBLIC_URL the server checks signatures against")
    parser.add_argument("--token", required=True, help="TWILIO_AUTH_TOKEN that signs")
    parser.add_argument("--account-sid", default="AC" + "b" * 32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--connections", type=int, default=16, help="max mode: concurrent connections")
    parser.add_argument("--processes", type=int, default=2, help="max mode: generator processes")
    parser.add_argument("--workers", type=int, default=64, help="rate mode: sender threads")
    parser.add_argument("--pool", type=int, default=30000, help="max mode: signed requests per process")
    parser.add_argument("--seed", type=int, default=1, help="keeps From numbers distinct across runs")
    args = parser.parse_args()
    if args.mode == "rate":
        requests = signed_requests(
            urlparse(args.url).netloc,
            args.public_url,
            args.token,
            args.account_sid,
            int(args.rate * args.duration) + 1,
            args.seed * 10,
        )
        result = summarize("rate", [_run_rate(args.url, requests, args.rate, args.duration, args.workers)])
    else:
        ctx = multiprocessing.get_context("fork")
        ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        procs = [ctx.Process(target=_max_process, args=(args, i, ready, go, results)) for i in range(args.processes)]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get()
        go.set()
        parts = [results.get() for _ in procs]
        for p in procs:
            p.join()
        result = summarize("max", parts)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
