"""Drill: Redis SIGKILLed mid-burst of reporters; how many acknowledged reports exist afterwards.

Reporters each text the whole sighting flow (signed webhooks into the app's test
client, several threads at once, as during a raid), with an on-call observer at
each report's place and `python worker.py` running. When 40% of the texts are
in, the Redis primary is SIGKILLed:

- `--mode kill` (default): the embedded redis-server (append-only file,
  appendfsync always) is down for `--down-s` seconds, then started again on the
  same port and data. Texts meanwhile are spooled and replayed by themselves.
- `--mode sentinel`: a primary, a replica and three Sentinels on loopback
  (REDIS_URL=redis+sentinel://...); the primary is not brought back, the
  Sentinels promote the replica.

A reporter is *acknowledged* when the webhook answered 200 to their last text
(the report's reference, or "we got your message" from the spool). Afterwards
the drill counts acknowledged reporters whose contact id is in no incident
(lost), and times the first dispatch text after the kill.

    python bench/redis_loss.py --port-base 21500                          # 300 reporters, 3 s down
    python bench/redis_loss.py --mode sentinel --reporters 150 --port-base 21500

The Redis servers run the embedded server's own command line
(`store.redis_server_args`); the Sentinel setup is the one docs/redis.md tells
an operator to run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dispatch as dispatch_bench  # noqa: E402  (bench/dispatch.py: fake, env, roster, worker)
from twilio.request_validator import RequestValidator  # noqa: E402

from bot import create_app, privacy, spool, store  # noqa: E402
from bot.config import Settings  # noqa: E402

THREADS = 6
"""Reporters texting at the same time."""


def redis_args(port: int, folder: Path, *extra: str) -> list[str]:
    """The embedded server's own command line (store.redis_server_args), plus replication options."""
    folder.mkdir(parents=True, exist_ok=True)
    return [*store.redis_server_args(port, folder), *extra]


def wait_ping(port: int, timeout_s: float = 10.0) -> None:
    client = store.connect(f"redis://127.0.0.1:{port}/0")
    deadline = time.monotonic() + timeout_s
    while not store.ping(client):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis on {port} did not answer")
        time.sleep(0.05)
    client.close()


class Cluster:
    """The Redis side of the drill: one embedded server, or primary + replica + three Sentinels."""

    def __init__(self, mode: str, base: Path, port_base: int | None = None):
        self.mode, self.base, self.procs = mode, base, {}
        self.ports = iter(range(port_base, port_base + 10)) if port_base else None
        self.primary_port = self.port()
        self.start("primary", redis_args(self.primary_port, base / "primary"))
        wait_ping(self.primary_port)
        if mode == "kill":
            self.url = f"redis://127.0.0.1:{self.primary_port}/0"
            return
        replica_port = self.port()
        self.start(
            "replica", redis_args(replica_port, base / "replica", "--replicaof", "127.0.0.1", str(self.primary_port))
        )
        wait_ping(replica_port)
        ports = []
        for n in range(3):
            port = self.port()
            folder = base / f"sentinel{n}"
            folder.mkdir(parents=True)
            conf = folder / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                f"sentinel monitor mymaster 127.0.0.1 {self.primary_port} 2\n"
                "sentinel down-after-milliseconds mymaster 1000\n"
                "sentinel failover-timeout mymaster 5000\n"
                "sentinel parallel-syncs mymaster 1\n"
            )
            self.start(f"sentinel{n}", [store.redis_server_binary(), str(conf), "--sentinel"])
            ports.append(port)
        for port in ports:
            wait_ping(port)
        self.url = "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in ports) + "/mymaster/0"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the Sentinels see the replica before the drill starts
            try:
                if store.connect(f"redis://127.0.0.1:{ports[0]}/0").execute_command("SENTINEL", "REPLICAS", "mymaster"):
                    break
            except Exception:  # noqa: BLE001 -- still starting
                pass
            time.sleep(0.2)

    def port(self) -> int:
        """The next port of --port-base's range, else one the OS says is free."""
        return next(self.ports) if self.ports else store.free_port()

    def start(self, name: str, args: list[str]) -> None:
        self.procs[name] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill_primary(self) -> None:
        self.procs["primary"].send_signal(signal.SIGKILL)
        self.procs["primary"].wait(timeout=10)

    def restart_primary(self) -> None:
        self.start("primary", redis_args(self.primary_port, self.base / "primary"))
        wait_ping(self.primary_port, timeout_s=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def run(args) -> dict:
    base = Path(tempfile.mkdtemp(prefix="hotline-redis-loss-"))
    cluster = Cluster(args.mode, base / "redis", args.port_base)
    fake = dispatch_bench.Fake()
    worker = None
    try:
        env = dispatch_bench.env_for(cluster.url, fake.url, str(base / "var"))
        settings = Settings.from_env(env)
        app = create_app(settings)
        rt = app.extensions["hotline"]
        dispatch_bench.put_roster(app, settings, args.reporters)
        with open(base / "worker.log", "ab") as log_file:  # kept for a look when a figure is off
            worker = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,
            )
        time.sleep(2.0)  # the worker is up and listening before the burst (as in bench/dispatch.py)
        validator = RequestValidator(dispatch_bench.TOKEN)
        sent = {"n": 0}
        lock = threading.Lock()
        acked: list[str] = []
        statuses: dict[int, int] = {}
        total = args.reporters * len(dispatch_bench.CONVERSATION)

        def text(client, number: str, body: str) -> int:
            params = {
                "MessageSid": "SM" + uuid.uuid4().hex,
                "AccountSid": dispatch_bench.ACCOUNT_SID,
                "From": number,
                "To": settings.twilio_number,
                "Body": body,
                "NumMedia": "0",
            }
            sig = validator.compute_signature(dispatch_bench.PUBLIC_URL + "/twilio/messages", params)
            response = client.post("/twilio/messages", data=params, headers={"X-Twilio-Signature": sig})
            with lock:
                sent["n"] += 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            return response.status_code

        def reporters(part: int) -> None:
            client = app.test_client()
            for i in range(part, args.reporters, THREADS):
                lat, lon = dispatch_bench.grid_point(i)
                number = f"+1323{5550000 + i:07d}"
                status = 0
                for body in dispatch_bench.CONVERSATION:
                    status = text(client, number, body.format(lat=lat, lon=lon))
                if status == 200:
                    with lock:
                        acked.append(number)

        threads = [threading.Thread(target=reporters, args=(p,)) for p in range(THREADS)]
        started = time.time()
        for t in threads:
            t.start()
        while sent["n"] < 0.4 * total:
            time.sleep(0.01)
        killed_at = time.time()
        cluster.kill_primary()
        if args.mode == "kill":
            time.sleep(args.down_s)  # the outage itself
            cluster.restart_primary()
        back_at = time.time()
        for t in threads:
            t.join()
        burst_s = time.time() - started
        spooled_peak = sum(1 for _ in spool.files(settings))
        deadline = time.monotonic() + args.settle_s
        while spool.pending(settings) and time.monotonic() < deadline:
            time.sleep(0.1)
        drained_at = time.time()
        found: set[str] = set()
        deadline = time.monotonic() + args.settle_s
        wanted = {privacy.contact_id(settings.secret, n) for n in acked}
        while time.monotonic() < deadline:
            found = set()
            for incident_id in rt.r.zrange(store.incidents_time_key(), 0, -1):
                found |= set(rt.r.smembers(store.incident_reporters_key(incident_id)))
            if wanted <= found:
                break
            time.sleep(0.5)
        observer_numbers = {dispatch_bench.observer_number(i) for i in range(args.reporters)}
        open_ids = rt.r.zrange(store.incidents_time_key(), 0, -1)
        incidents_open = len(open_ids)

        def undispatched() -> list[str]:
            """Incidents nobody was texted for (counted by incident: one observer may be texted for two, their
            attention budget allowing)."""
            pipe = rt.r.pipeline(transaction=False)
            for incident_id in open_ids:
                pipe.hvals(store.incident_dispatch_key(incident_id))
            return [i for i, states in zip(open_ids, pipe.execute()) if not {"texted", "accepted"} & set(states)]

        deadline = time.monotonic() + args.settle_s
        while time.monotonic() < deadline:  # every incident's first dispatch text, or the deadline
            dispatch_texts = [m for m in fake.messages() if m["to"] in observer_numbers]
            if not undispatched():
                break
            time.sleep(0.5)
        after = sorted(m["received_at"] for m in dispatch_texts if m["received_at"] > killed_at)
        return {
            "mode": args.mode,
            "reporters": args.reporters,
            "texts": sent["n"],
            "statuses": statuses,
            "acknowledged": len(acked),
            "lost_of_acknowledged": len(wanted - found),
            "outage_s": round(back_at - killed_at, 2),
            "burst_s": round(burst_s, 1),
            "spool_files_at_end_of_burst": spooled_peak,
            "spool_left": spool.pending(settings),
            "drained_s_after_burst": round(drained_at - started - burst_s, 1),
            "first_dispatch_text_after_kill_s": round(after[0] - killed_at, 2) if after else None,
            "incidents": incidents_open,
            "incidents_dispatched": incidents_open - len(left := undispatched()),
            "undispatched": left,  # ids, to look into (their plan, timeline) with --keep
            "observers_texted": len({m["to"] for m in dispatch_texts}),
        }
    finally:
        if worker is not None:
            dispatch_bench.stop_worker(worker)
        fake.stop()
        cluster.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("kill", "sentinel"), default="kill")
    parser.add_argument("--reporters", type=int, default=300)
    parser.add_argument("--down-s", type=float, default=3.0, help="how long Redis stays down (kill mode)")
    parser.add_argument("--port-base", type=int, help="use ports from here up for the Redis/Sentinel servers")
    parser.add_argument("--keep", action="store_true", help="keep the data folder (worker log, Redis logs)")
    parser.add_argument("--settle-s", type=float, default=60.0, help="longest wait for replay and dispatch")
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
