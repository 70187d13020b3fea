"""Coordinator texts: one implementation, send records, a per-recipient guard and RQ Retry.

These are the reports that most need a human: an unplaced report or a call-back
request must reach every coordinator even when Twilio answers 500 once or one
coordinator's number is invalid.
"""

from __future__ import annotations

from rq.job import Job
from rq.registry import FailedJobRegistry
from test_reports import CALL

from bot import reports, runtime
from bot.conversation import ActionCall

COORDINATORS = ("+13105550199", "+13105550198")


def _unplaced(where_raw: str) -> ActionCall:
    return ActionCall(answers={"activity": "raid", "where": {"raw": where_raw}}, **CALL)


def _two_coordinators(settings):
    return runtime.configure(settings.replace(coordinators=COORDINATORS))


def _to_coordinators(twilio_outbox) -> list[str]:
    return [m["to"] for m in twilio_outbox.messages() if m["to"] in COORDINATORS]


def test_unplaced_report_reaches_coordinators_after_a_twilio_500(
    app, settings, worker, release_scheduled, twilio_outbox
):
    rt = _two_coordinators(settings)
    twilio_outbox.fail_next({"status": 500, "code": 20500, "message": "Internal"})
    reports.submit(rt, _unplaced("behind the swap meet"))
    worker()
    release_scheduled(5)  # the RQ Retry the 500 scheduled
    worker()
    for _ in range(2):  # Twilio's list is the only one who knows: a retry never texts anyone twice
        release_scheduled(60)
        worker()
    assert sorted(_to_coordinators(twilio_outbox)) == sorted(COORDINATORS), "every coordinator told exactly once"


def test_invalid_first_coordinator_number_does_not_silence_the_second(app, settings, worker, twilio_outbox):
    rt = _two_coordinators(settings)
    twilio_outbox.fail_next({"status": 400, "code": 21211, "message": "Invalid 'To' Phone Number"})
    reports.submit(rt, _unplaced("behind the swap meet"))
    worker()
    assert _to_coordinators(twilio_outbox) == [COORDINATORS[1]]


def test_callback_request_reaches_the_second_coordinator_when_the_first_number_is_invalid(
    app, settings, worker, twilio_outbox
):
    rt = _two_coordinators(settings)
    twilio_outbox.fail_next({"status": 400, "code": 21211, "message": "Invalid 'To' Phone Number"})
    reports.request_callback(rt, ActionCall(answers={}, **{**CALL, "name": "handoff.callback"}))
    worker()
    [message] = [m for m in twilio_outbox.messages() if m["to"] in COORDINATORS]
    assert message["to"] == COORDINATORS[1] and "3235550140" in message["body"]


def test_coordinator_jobs_are_retried_and_a_failed_one_is_not_kept_for_a_year(app, settings, twilio_outbox):
    rt = _two_coordinators(settings)
    reports.submit(rt, _unplaced("behind the swap meet"))
    reports.request_callback(rt, ActionCall(answers={}, **{**CALL, "name": "handoff.callback"}))
    jobs = [Job.fetch(i, connection=rt.r_raw) for i in rt.queue("dispatch").job_ids]
    assert len(jobs) == 1, "both go in the coordinators' digest: one flush job (bot/dispatch/digest.py)"
    for job in jobs:
        assert job.retries_left and job.retries_left > 0, f"{job.func_name} is enqueued with an RQ Retry"
        assert job.failure_ttl is not None and job.failure_ttl <= 24 * 3600, "a failed job's args expire within a day"
    assert FailedJobRegistry(queue=rt.queue("dispatch")).count == 0
