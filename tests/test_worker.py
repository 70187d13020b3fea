"""The real worker process: `python worker.py` picks up dispatch, and a SIGKILL mid-fan-out loses nobody.

These spawn worker processes against the test Redis and the fake Twilio, so
they are marked `slow`; they wait on the fake's arrival condition, never sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot import dispatch, incidents, observers, privacy, store

ROOT = Path(__file__).resolve().parent.parent
SCENE = (33.9795, -118.2200)
pytestmark = pytest.mark.slow


@pytest.fixture
def spawn(settings, tmp_path):
    """Start `python worker.py` processes configured like the test's settings; kill them afterwards."""
    started: list[subprocess.Popen] = []

    def start(log_to: Path | None = None, **extra) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_", "REDIS_"))}
        env.update(
            {
                "REDIS_URL": settings.redis_url,
                "TWILIO_API_BASE": settings.twilio_api_base,
                "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
                "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
                "TWILIO_NUMBER": settings.twilio_number,
                "HOTLINE_SECRET": settings.secret,
                "HOTLINE_ENV": "test",
                "HOTLINE_DATA_DIR": str(tmp_path / "var"),
                "HOTLINE_LOCALES_DIR": settings.locales_dir,
                "HOTLINE_FLOWS_DIR": settings.flows_dir,
                "PUBLIC_URL": settings.public_url or "",
                "HOTLINE_COORDINATORS": ",".join(settings.coordinators),
                **extra,
            }
        )
        log_file = open(log_to, "ab") if log_to else None  # noqa: SIM115 -- closed once the child has it
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file or subprocess.DEVNULL,
            start_new_session=True,
        )
        if log_file:
            log_file.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and RQ's scheduler child it forked
        except ProcessLookupError:  # already gone with its whole group
            pass
        proc.wait(timeout=10)


def add_observers(rt, count: int) -> list[str]:
    ids = []
    for i in range(count):
        row = {
            "name": f"O{i}",
            "phone": f"+121355503{i:02d}",
            "languages": "en",
            "radius_km": "10",
            "location": f"{SCENE[0] + (1 + i * 0.2) / 111.0:.6f},{SCENE[1]}",
            "on_call": "yes",
        }
        ids.append(observers.upsert(rt.r, rt.settings, observers.parse_row(row, rt.settings), now=0))
    return ids


def new_incident(rt) -> str:
    cid = privacy.contact_id(rt.settings.secret, "+13235550123")
    return incidents.merge_report(
        rt.r, incidents.Report(cid, SCENE[0], SCENE[1], 30, "raid", {}, "en", "sms"), rt.settings, time.time()
    ).incident_id


def test_worker_process_texts_the_first_observer(rt, spawn, twilio_outbox):
    add_observers(rt, 1)
    spawn()
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    arrived = twilio_outbox.wait_for(1, timeout_s=30)
    assert [m["to"] for m in arrived] == ["+12135550300"]


def test_worker_killed_mid_fan_out_is_completed_by_another_without_gaps_or_repeats(
    rt, spawn, twilio_outbox, fake_twilio
):
    rt.settings = rt.settings.replace(wave_size=8, observers_needed=8)
    ids = add_observers(rt, 8)
    numbers = {observers.number_of(rt.settings, observers.get(rt.r, oid)) for oid in ids}
    fake_twilio.recorder.latency_s = 0.25  # a slow API, so the kill lands mid-wave
    first = spawn(TWILIO_TIMEOUT_S="1")
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    twilio_outbox.wait_for(3, timeout_s=30)
    first.send_signal(signal.SIGKILL)
    killed_at = time.time()
    first.wait(timeout=10)
    spawn(TWILIO_TIMEOUT_S="1")
    arrived = twilio_outbox.wait_for(8, timeout_s=60)
    recovered_at = max(m["received_at"] for m in arrived)
    counts = Counter(m["to"] for m in arrived)
    assert set(counts) == numbers, "no observer missed"
    assert max(counts.values()) == 1, "nobody texted twice"
    assert set(rt.r.hvals(store.incident_dispatch_key(incident_id))) == {"texted"}
    print(f"\nrecovery: SIGKILL to last dispatch text {recovered_at - killed_at:.2f} s")


def test_dispatch_is_not_queued_behind_a_running_broadcast(rt, spawn, twilio_outbox):
    from bot import alerts

    for i in range(200):
        alerts.add_subscriber(rt.r, rt.settings, f"s{i}", f"+1424555{i:04d}", "90255", "en", 0)
    add_observers(rt, 1)
    spawn(HOTLINE_SEND_RATE="20")  # 200 alerts take at least ten seconds
    verified = new_incident(rt)
    incidents.set_status(rt.r, verified, "verified", time.time(), "test")
    rt.queue("broadcast").enqueue(alerts.broadcast, verified)
    twilio_outbox.wait_for(1, timeout_s=30)  # the broadcast is under way
    other = incidents.merge_report(
        rt.r,
        incidents.Report(
            privacy.contact_id(rt.settings.secret, "+13235550999"),
            SCENE[0] + 0.001,
            SCENE[1],
            30,
            "checkpoint",
            {},
            "en",
            "sms",
        ),
        rt.settings,
        time.time(),
    ).incident_id
    dispatch.enqueue_start(rt, other)
    arrived = twilio_outbox.wait_for(1)
    while not any(m["to"] == "+12135550300" for m in arrived):
        more = twilio_outbox.wait_for(len(arrived) + 1, timeout_s=30)
        assert len(more) > len(arrived), "the dispatch text never came"
        arrived = more
    alerts_before = [m for m in arrived if m["to"].startswith("+1424555")]
    assert len(alerts_before) < 200, "the dispatch text went out while the broadcast was still running"


def test_a_quarter_of_the_dispatch_threads_serve_only_the_first_lane():
    sys.path.insert(0, str(ROOT))
    import worker

    assert worker.thread_queues(1) == [worker.ALL_QUEUES], "one thread serves everything"
    eight = worker.thread_queues(8)
    assert eight.count(worker.FIRST_LANE_ONLY) == 2 and eight[0] == worker.ALL_QUEUES, "the main one runs the scheduler"
    assert worker.thread_queues(2) == [worker.ALL_QUEUES, worker.FIRST_LANE_ONLY]


def test_a_first_lane_dispatch_is_not_queued_behind_slow_default_jobs(rt, spawn, twilio_outbox, wait_until):
    """Two minutes after a flood, thousands of deletions at Twilio (each an API call) fill `default`; with every
    thread busy on them a genuine report's dispatch waited for one to finish."""
    from rq.registry import StartedJobRegistry

    add_observers(rt, 1)
    for _ in range(2):
        rt.queue("default").enqueue("time.sleep", 120, job_timeout=300)  # a thread taken for two minutes each
    spawn(HOTLINE_DISPATCH_THREADS="2")
    started = StartedJobRegistry(queue=rt.queue("default"))
    assert wait_until(lambda: started.count >= 1), "the general thread took a slow job"
    assert started.count == 1, "one thread busy with a slow job, the other left for the first lane"
    dispatch.enqueue_start(rt, new_incident(rt))
    arrived = twilio_outbox.wait_for(1, timeout_s=30)
    assert [m["to"] for m in arrived] == ["+12135550300"]
    assert started.count == 1 and rt.queue("default").count == 1, "while the slow jobs still hold their thread"
