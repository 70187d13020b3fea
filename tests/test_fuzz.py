"""10,000 signed hostile webhooks through the app in-process: no 5xx, no traceback, every texter answered.

The corpus is deterministic (tests/hostile.py, seed 10), so a failure names the
index of the request that caused it. `bench/fuzz.py` sends a bigger one to gunicorn.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from conftest import PUBLIC_URL, replies_of
from hostile import corpus

COUNT = int(__import__("os").environ.get("FUZZ_COUNT", "10000"))


def test_ten_thousand_hostile_webhooks_get_no_5xx_and_log_no_traceback(client, settings, caplog):
    caplog.set_level(logging.WARNING)
    statuses: Counter = Counter()
    unanswered = []
    started = time.monotonic()
    requests = corpus(
        COUNT,
        auth_token=settings.twilio_auth_token,
        public_url=PUBLIC_URL,
        account_sid=settings.twilio_account_sid,
        to=settings.twilio_number,
    )
    for index, req in enumerate(requests):
        response = client.post(req.path, data=req.form, headers=req.headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, f"request {index} answered {response.status_code}"
        if req.path == "/twilio/messages" and response.status_code == 200:
            if not replies_of(response.get_data(as_text=True)):
                unanswered.append(index)
    print(f"\n{COUNT} hostile webhooks in {time.monotonic() - started:.1f} s: {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) == COUNT
    assert statuses[200] > COUNT // 2, "most of the corpus reaches the conversation"
    tracebacks = [rec for rec in caplog.records if rec.exc_info or "Traceback" in rec.getMessage()]
    assert not tracebacks, tracebacks[0].getMessage()
    errors = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert not errors, errors[:5]
