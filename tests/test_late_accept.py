"""A Twilio that accepts a message after the client's timeout: the hotline must not send it twice.

The fake holds the answer to a create longer than TWILIO_TIMEOUT_S and lists the
message only when it answers (Twilio accepting it late). Reconciliation must keep
asking Twilio's message list over the whole window before any resend.
"""

from __future__ import annotations

import json
import time

import pytest
from test_dispatch import add_observer, name_states, new_incident

from bot import dispatch, outbox, store
from bot.errors import Reconciling, RetryableSend

TIMEOUT_S = 0.5
"""The client's timeout; the fake holds its answer (and the message) until the test releases it."""


@pytest.fixture
def settings(settings):
    return settings.replace(wave_size=2, wave_timeout_s=60, observers_needed=2, twilio_timeout_s=TIMEOUT_S)


@pytest.fixture
def roster(rt):
    people = [("A", 1), ("B", 2), ("C", 3)]
    return {
        name: add_observer(rt.r, rt.settings, name, f"+1213555010{i}", km) for i, (name, km) in enumerate(people, 1)
    }


def count_to(outbox_, number: str) -> int:
    return sum(1 for m in outbox_.messages() if m["to"] == number)


def test_a_dispatch_text_accepted_after_the_timeout_is_not_sent_twice(
    rt, roster, worker, release_scheduled, twilio_outbox
):
    twilio_outbox.accept_late(1, created_late=True)
    incident_id = new_incident(rt)
    dispatch.enqueue_start(rt, incident_id)
    worker()  # A's create times out; the job fails into its RQ retry
    release_scheduled(2)
    worker()  # the retry: A is not listed yet, so A is left alone (not resent); B is texted
    assert count_to(twilio_outbox, "+12135550101") == 0 and count_to(twilio_outbox, "+12135550102") == 1
    assert name_states(rt, incident_id, roster) == {"A": "texted", "B": "texted"}, "A keeps the slot meanwhile"
    assert rt.r.zscore(store.dispatch_due_key(), incident_id) < time.time() + 10, "the drive comes back soon"

    twilio_outbox.release_late()  # Twilio accepts it now, long after the client gave up
    twilio_outbox.wait_for(2, timeout_s=10)  # and lists it (a condition, not a sleep)
    dispatch.redrive_due(rt, time.time() + 10)
    worker()
    assert count_to(twilio_outbox, "+12135550101") == 1, "doubled: 0"
    assert count_to(twilio_outbox, "+12135550102") == 1
    record = outbox.read_record(rt.r.hget(store.incident_sends_key(incident_id), roster["A"]))
    late_sid = next(m["sid"] for m in twilio_outbox.messages() if m["to"] == "+12135550101")
    assert record["state"] == outbox.SENT and record["sid"] == late_sid
    assert rt.r.hget(store.outbound_key(late_sid), "purpose") == "dispatch", "its status callbacks find it"
    for _ in range(3):
        dispatch.redrive_due(rt, time.time() + 60)
        release_scheduled(60)
        worker()
    assert len(twilio_outbox.messages()) == 2, "nothing more"


def test_an_unanswered_send_is_looked_up_for_the_whole_window_then_sent_once(rt, twilio_outbox):
    key, to = store.job_sends_key("late"), "+12135550111"

    def once():
        return outbox.send_once(rt, key, "r1", to, "hello", purpose="escalation", now=time.time())

    # The attempt gave up just now with no answer: Twilio may still create it.
    rt.r.hset(key, "r1", outbox._record(outbox.UNCERTAIN, time.time()))
    with pytest.raises(Reconciling):
        once()
    assert twilio_outbox.messages() == [], "never resent inside the window"
    # The window has passed with nothing listed: Twilio never got it, so it is sent, once.
    rt.r.hset(key, "r1", outbox._record(outbox.UNCERTAIN, time.time() - outbox.reconcile_window(rt.settings) - 1))
    assert once()["state"] == outbox.SENT
    assert once()["state"] == outbox.SENT
    assert count_to(twilio_outbox, to) == 1


def test_an_old_identical_text_is_not_taken_for_this_attempt(rt, twilio_outbox):
    key, to = store.job_sends_key("old"), "+12135550112"
    outbox.send(rt, to, "same words", purpose="escalation")  # long ago, by Twilio's clock it seems
    old = twilio_outbox.recorder.messages[-1]
    old["date_created"] = "Mon, 30 Nov 2026 08:00:00 +0000"
    rt.r.hset(key, "r1", outbox._record(outbox.UNCERTAIN, time.time() - outbox.reconcile_window(rt.settings) - 1))
    record = outbox.send_once(rt, key, "r1", to, "same words", purpose="escalation", now=time.time())
    assert record["state"] == outbox.SENT and record["sid"] != old["sid"]
    assert count_to(twilio_outbox, to) == 2


def test_a_5xx_answer_is_reconciled_at_once(rt, twilio_outbox):
    key, to = store.job_sends_key("5xx"), "+12135550113"
    twilio_outbox.fail_next({"status": 500, "code": 20500, "message": "Internal"})
    with pytest.raises(RetryableSend):
        outbox.send_once(rt, key, "r1", to, "hi", purpose="escalation", now=time.time())
    record = outbox.send_once(rt, key, "r1", to, "hi", purpose="escalation", now=time.time())
    assert record["state"] == outbox.SENT and count_to(twilio_outbox, to) == 1


WA = "whatsapp:+13235550188"
ALERT_SID = "HX" + "c" * 32


def _uncertain_outside_the_window(rt, twilio_outbox, key: str, **send) -> dict:
    """A send to a WhatsApp contact outside the 24-hour window that Twilio accepted only after the client's
    timeout, its record aged past the reconcile window (the moment a resend would be allowed)."""
    twilio_outbox.accept_late(1, created_late=True)
    with pytest.raises(RetryableSend):
        outbox.send_once(rt, key, "r1", WA, "An observer is on the way.", purpose="alert", now=time.time(), **send)
    twilio_outbox.release_late()
    twilio_outbox.wait_for(1, timeout_s=10)
    record = outbox.read_record(rt.r.hget(key, "r1"))
    assert record["state"] == outbox.UNCERTAIN and "188" not in json.dumps(record), "how it went, never the number"
    record["at"] = time.time() - outbox.reconcile_window(rt.settings) - 1
    rt.r.hset(key, "r1", json.dumps(record))
    return record


def test_a_template_accepted_late_is_found_by_its_recipient_not_by_a_body_it_never_had(rt, tmp_path, twilio_outbox):
    """A template's body at Twilio is the template's own text: looking for the freeform body never found it,
    and once the window passed the alert went out a second time."""
    path = tmp_path / "templates.yaml"
    path.write_text(f'alert:\n  en: {{content_sid: {ALERT_SID}, variables: {{"1": kind, "2": area}}}}\n')
    rt.settings = rt.settings.replace(whatsapp_templates=str(path))
    twilio_outbox.add_template(ALERT_SID, placeholders=2)
    key = store.job_sends_key("template")
    variables = {"kind": "raid", "area": "Bell 90201"}
    assert _uncertain_outside_the_window(rt, twilio_outbox, key, variables=variables)["via"] == outbox.VIA_TEMPLATE
    record = outbox.send_once(rt, key, "r1", WA, "An observer is on the way.", purpose="alert", now=time.time())
    assert record["state"] == outbox.SENT and count_to(twilio_outbox, WA) == 1, "not sent twice"
    assert rt.r.hget(store.outbound_key(record["sid"]), "purpose") == "alert", "its status callbacks find it"


def test_a_template_nobody_created_is_sent_and_a_known_message_is_not_taken_for_it(rt, tmp_path, twilio_outbox):
    path = tmp_path / "templates.yaml"
    path.write_text(f'alert:\n  en: {{content_sid: {ALERT_SID}, variables: {{"1": kind, "2": area}}}}\n')
    rt.settings = rt.settings.replace(whatsapp_templates=str(path))
    twilio_outbox.add_template(ALERT_SID, placeholders=2)
    variables = {"kind": "raid", "area": "Bell 90201"}
    outbox.send(rt, WA, "another alert", purpose="alert", variables=variables)  # one the hotline knows it sent
    key = store.job_sends_key("template-none")
    old = time.time() - outbox.reconcile_window(rt.settings) - 1
    rt.r.hset(key, "r1", outbox._record(outbox.UNCERTAIN, old, via=outbox.VIA_TEMPLATE))
    record = outbox.send_once(rt, key, "r1", WA, "x", purpose="alert", now=time.time(), variables=variables)
    assert record["state"] == outbox.SENT and count_to(twilio_outbox, WA) == 2, "sent: the listed one was another"


def test_an_sms_fallback_accepted_late_is_found_at_the_number_it_went_to(rt, twilio_outbox):
    rt.settings = rt.settings.replace(whatsapp_sms_fallback=True)
    key = store.job_sends_key("fallback")
    assert _uncertain_outside_the_window(rt, twilio_outbox, key)["via"] == outbox.VIA_SMS
    record = outbox.send_once(rt, key, "r1", WA, "An observer is on the way.", purpose="alert", now=time.time())
    assert record["state"] == outbox.SENT
    assert count_to(twilio_outbox, "+13235550188") == 1 and count_to(twilio_outbox, WA) == 0, "not sent twice"
