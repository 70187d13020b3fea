"""`python worker.py` rides out a Redis restart: a real worker, a real redis-server stopped and started under it.

The Redis here is the test's own (its own port and data dir, append-only file on),
so stopping it disturbs no other test. Marked `slow`: it spawns a worker process.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import redis
from test_worker import add_observers, new_incident, spawn  # noqa: F401 -- spawn is a fixture

from bot import create_app, dispatch, observers, store
from bot.dispatch.lease import LEASE_S

pytestmark = pytest.mark.slow


def test_worker_keeps_running_through_a_redis_restart_mid_job_and_finishes_the_wave(
    settings,
    blip_redis,
    spawn,  # noqa: F811 -- the fixture imported above
    twilio_outbox,
    fake_twilio,
    wait_until,
    tmp_path,  # noqa: F811
):
    rt = create_app(settings.replace(redis_url=blip_redis.url, wave_size=8, observers_needed=8)).extensions["hotline"]
    rt.r.flushdb()
    ids = add_observers(rt, 8)
    numbers = {observers.number_of(rt.settings, observers.get(rt.r, oid)) for oid in ids}
    fake_twilio.recorder.latency_s = 0.25  # a slow API, so Redis goes away while the job runs
    log = tmp_path / "worker.log"
    worker = spawn(log_to=log, REDIS_URL=blip_redis.url, HOTLINE_WAVE_SIZE="8", HOTLINE_OBSERVERS_NEEDED="8")
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    twilio_outbox.wait_for(2, timeout_s=30)

    blip_redis.stop()
    saw_it = wait_until(lambda: worker.poll() is not None or "waiting" in log.read_text(errors="replace"))
    assert saw_it, "the worker noticed Redis was gone"
    assert worker.poll() is None, "the worker process is still running with Redis down"
    blip_redis.start()

    arrived = twilio_outbox.wait_for(8, timeout_s=60)
    counts = Counter(m["to"] for m in arrived if m["to"] in numbers)
    assert set(counts) == numbers, "every observer of the interrupted wave was texted:\n" + log.read_text()[-3000:]
    assert max(counts.values()) == 1, "nobody texted twice"
    assert worker.poll() is None

    job = rt.queue("default").enqueue("bot.store.free_port")  # a job queued after the restart
    assert wait_until(lambda: job.get_status(refresh=True) == "finished"), "the same process serves new jobs"
    assert worker.poll() is None


def test_a_drive_cut_short_right_after_opening_its_wave_is_due_again_within_a_lease(settings, lossy, twilio_outbox):
    """The order-dependent failure above: a worker that lost Redis in the first moments of a wave (before its
    lease keeper's first renewal) left the incident due at the wave's deadline, so the re-drive waited minutes."""
    rt = create_app(settings.replace(redis_url=lossy.url)).extensions["hotline"]
    add_observers(rt, 2)
    incident_id = new_incident(rt)
    rt.r.zadd(store.dispatch_due_key(), {incident_id: 0})  # as enqueue_start leaves it
    key = store.incident_dispatch_key(incident_id).encode()
    # Redis goes away with the first observer's dispatch slot (fanout.text_one claims it in attention_take.lua:
    # three keys, the incident's dispatch states first), after the wave opened.
    lossy.lose_answer_to(b"$1\r\n3\r\n$%d\r\n%s\r\n" % (len(key), key))
    with pytest.raises(redis.ConnectionError):
        dispatch.advance(rt, incident_id, time.time())
    lossy.up()
    assert twilio_outbox.messages() == [], "it died before any text"
    due = rt.r.zscore(store.dispatch_due_key(), incident_id)
    assert due <= time.time() + LEASE_S, "re-driven within a lease, not at the wave deadline"
