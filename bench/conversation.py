"""Benchmark: `conversation.respond` alone, in process, on the embedded Redis.

Runs whole sighting conversations (English and Spanish, with pre-fill) for many
contacts and reports per-message latency and how many Redis round trips each
message costs (counted at the socket: one `send_packed_command` is one trip).
Actions are tiny stand-ins so only the conversation is measured.

    python bench/conversation.py                  # 2000 conversations
    python bench/conversation.py --conversations 500

Target (issue 3): about two pipelined round trips per message; flows parsed once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bot import privacy, runtime, store  # noqa: E402
from bot.channels import Inbound  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.conversation import respond  # noqa: E402

SCRIPTS = (
    ("ICE at 90011 now", "4 agents 2 cars", "1 6 plate 7ABC123", "not sure", "1"),
    ("hola, hay migra en Pacific y Florence ahora", "cinco y dos", "mascaras", "si", "2"),
    ("report", "1", "Pacific and Florence", "20 min ago", "3", "9", "no", "1"),
)


class CountingConnection(redis.Connection):
    """A redis-py connection that counts writes to the socket (= round trips)."""

    trips = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.trips += 1
        return super().send_packed_command(command, check_health)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = store.start_embedded(tmp, appendonly=False)
        try:
            run(server.url, tmp, args.conversations)
        finally:
            server.stop()


def run(url: str, tmp: str, conversations: int) -> None:
    settings = Settings(
        env="test",
        redis_url=url,
        data_dir=tmp,
        twilio_api_base="http://127.0.0.1:9",
        secret="bench",
        human_number="+13105550111",
        flows_dir=str(ROOT / "flows"),
        locales_dir=str(ROOT / "locales"),
    ).resolved()
    rt = runtime.Runtime(settings=settings, redis_url=url)
    pool = redis.ConnectionPool.from_url(url, decode_responses=True, connection_class=CountingConnection)
    rt.__dict__["r"] = redis.Redis(connection_pool=pool)  # count the hotline's own keys
    raw_pool = redis.ConnectionPool.from_url(url, connection_class=CountingConnection)
    rt.__dict__["r_raw"] = redis.Redis(connection_pool=raw_pool)  # and RQ's timer writes
    actions = {
        "report.submit": lambda rt, call: {"ref": "R1", "incident_id": "1"},
        "handoff.callback": lambda rt, call: {},
    }
    latencies: list[float] = []
    trips: list[int] = []
    now = time.time()
    started = time.perf_counter()
    for n in range(conversations):
        e164 = f"+1323{n:07d}"
        cid = privacy.contact_id(settings.secret, e164)
        for i, body in enumerate(SCRIPTS[n % len(SCRIPTS)]):
            inbound = Inbound(channel="sms", address=e164, body=body, message_sid=f"SM{n}-{i}")
            before = CountingConnection.trips
            t0 = time.perf_counter()
            respond(rt, cid, inbound, now, actions)
            latencies.append(time.perf_counter() - t0)
            trips.append(CountingConnection.trips - before)
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        f"messages: {len(latencies)} in {conversations} conversations, {elapsed:.1f} s "
        f"({len(latencies) / elapsed:.0f} msg/s, one thread)"
    )
    print(
        f"latency: p50 {latencies[len(latencies) // 2] * 1000:.2f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms"
    )
    print(
        f"redis round trips per message: mean {statistics.mean(trips):.2f}, max {max(trips)}, "
        f"mode {statistics.mode(trips)}"
    )


if __name__ == "__main__":
    main()
