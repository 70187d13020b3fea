"""WhatsApp's 24-hour window: freeform inside it, an approved template (or SMS, or nothing) outside it.

Real parts only: the signed webhook opens the window, the real twilio client
sends to the fake, and the fake fails a freeform WhatsApp body outside the
window the way Twilio does — accepted, then a `failed` status callback with
63016 (https://www.twilio.com/docs/api/errors/63016) — which the test delivers
back through the signed `/twilio/status` webhook.
"""

from __future__ import annotations

import json
import time

import pytest
from rq import SimpleWorker

from bot import alerts, contacts, incidents, outbox, privacy, runtime, store, whatsapp_window
from bot.channels import twilio as twilio_channel
from bot.errors import ConfigError, PermanentSend

WA = "whatsapp:+13235550177"
SCENE = (33.9795, -118.2200)  # Huntington Park, ZIP 90255
ALERT_SID = "HX" + "a" * 32
ALERT_SID_ES = "HX" + "b" * 32


def templates_file(tmp_path, body: str) -> str:
    path = tmp_path / "whatsapp_templates.yaml"
    path.write_text(body)
    return str(path)


ALERT_TEMPLATES = f"""
alert:
  en: {{content_sid: {ALERT_SID}, variables: {{"1": kind, "2": area}}}}
  es: {{content_sid: {ALERT_SID_ES}, variables: {{"1": kind, "2": area}}}}
"""


def cid(rt, address=WA) -> str:
    return privacy.contact_id(rt.settings.secret, address)


def to(fake, address=WA) -> list[dict]:
    return [m for m in fake.messages() if m["to"] == address]


# ---- the fake is as strict as Twilio ---------------------------------------------------
def test_fake_accepts_a_freeform_whatsapp_body_outside_the_window_then_fails_it_with_63016(rt, twilio_outbox):
    sid = twilio_channel.send(rt.twilio, rt.settings, WA, "hello", status_callback="https://hotline.test/twilio/status")
    assert sid.startswith("SM"), "Twilio's API accepts it: the failure comes later"
    [callback] = twilio_outbox.take_callbacks()
    assert callback["MessageSid"] == sid
    assert (callback["MessageStatus"], callback["ErrorCode"]) == ("failed", "63016")
    [message] = to(twilio_outbox)
    assert (message["status"], message["error_code"]) == ("failed", 63016)


def test_fake_delivers_freeform_inside_the_window_and_a_template_outside_it(rt, twilio_outbox):
    twilio_outbox.add_template(ALERT_SID, placeholders=2)
    twilio_channel.send(
        rt.twilio, rt.settings, WA, "", content_sid=ALERT_SID, content_variables={"1": "raid", "2": "Bell 90201"}
    )
    assert twilio_outbox.take_callbacks() == [], "a template may start a conversation"
    twilio_channel.send(rt.twilio, rt.settings, WA, "", content_sid=ALERT_SID, content_variables={"1": "raid"})
    [callback] = twilio_outbox.take_callbacks()
    assert callback["ErrorCode"] == "63028", "a template with a placeholder left unfilled fails"
    twilio_outbox.whatsapp_inbound(WA)
    twilio_channel.send(rt.twilio, rt.settings, WA, "hello again")
    assert twilio_outbox.take_callbacks() == []
    twilio_outbox.whatsapp_inbound(WA, at=time.time() - 25 * 3600)
    twilio_channel.send(rt.twilio, rt.settings, WA, "a day later")
    assert [c["ErrorCode"] for c in twilio_outbox.take_callbacks()] == ["63016"]


def test_sms_is_never_held_to_the_window(rt, twilio_outbox):
    twilio_channel.send(rt.twilio, rt.settings, "+13235550177", "hello")
    assert twilio_outbox.take_callbacks() == []


# ---- the hotline tracks the window, de-identified ------------------------------------------
def test_an_inbound_whatsapp_message_opens_the_window_for_24_hours_keyed_by_contact_id(rt, phone):
    phone.text("hola", from_=WA)
    key = store.whatsapp_window_key(cid(rt))
    assert "3235550177" not in key, "keyed like contacts: never the number"
    assert 23 * 3600 < rt.r.ttl(key) <= whatsapp_window.WINDOW_S, "the key expires when the window closes"
    assert whatsapp_window.is_open(rt.r, cid(rt), time.time())
    assert not whatsapp_window.is_open(rt.r, cid(rt), time.time() + 24 * 3600)
    assert not [k for k in rt.r.keys("*") if "3235550177" in k]


def test_sms_messages_do_not_open_a_whatsapp_window(rt, phone):
    phone.text("hola", from_="+13235550177")
    assert not rt.r.exists(store.whatsapp_window_key(cid(rt)))


def test_inside_the_window_a_freeform_text_goes_and_arrives(rt, phone, twilio_outbox):
    phone.text("hola", from_=WA)
    twilio_outbox.clear()
    twilio_outbox.whatsapp_inbound(WA)
    assert outbox.send(rt, WA, "An observer is on the way.", purpose="followup")
    [message] = to(twilio_outbox)
    assert message["body"] == "An observer is on the way." and message["content_sid"] is None
    assert twilio_outbox.take_callbacks() == []


def test_outside_the_window_without_template_or_sms_fallback_nothing_is_sent(rt, twilio_outbox):
    with pytest.raises(PermanentSend) as raised:
        outbox.send(rt, WA, "An observer is on the way.", purpose="followup")
    assert raised.value.code == 63016
    assert to(twilio_outbox) == [], "never a freeform body Twilio would accept and then fail"


def test_outside_the_window_the_configured_template_goes_in_the_contacts_language(rt, tmp_path, twilio_outbox):
    rt.settings = rt.settings.replace(whatsapp_templates=templates_file(tmp_path, ALERT_TEMPLATES))
    twilio_outbox.add_template(ALERT_SID_ES, placeholders=2)
    outbox.send(rt, WA, "ignored", purpose="alert", language="es", variables={"area": "Bell 90201", "kind": "redada"})
    [message] = to(twilio_outbox)
    assert message["content_sid"] == ALERT_SID_ES and message["body"] is None
    assert json.loads(message["content_variables"]) == {"1": "redada", "2": "Bell 90201"}
    assert twilio_outbox.take_callbacks() == []
    outbox.send(rt, WA, "ignored", purpose="alert", language="fr", variables={"area": "Bell 90201", "kind": "raid"})
    assert to(twilio_outbox)[-1]["content_sid"] == ALERT_SID, "no template in their language: the English one"


def test_outside_the_window_with_sms_allowed_the_same_number_gets_an_sms(rt, twilio_outbox):
    rt.settings = rt.settings.replace(whatsapp_sms_fallback=True)
    outbox.send(rt, WA, "An observer is on the way.", purpose="followup")
    assert to(twilio_outbox) == []
    [message] = to(twilio_outbox, "+13235550177")
    assert message["body"] == "An observer is on the way." and message["from"] == rt.settings.twilio_number


def test_the_hotlines_clock_keeps_a_margin_before_the_window_closes(rt, twilio_outbox):
    whatsapp_window.queue_note_inbound(rt.r, cid(rt), time.time() - whatsapp_window.WINDOW_S + 60)
    with pytest.raises(PermanentSend):
        outbox.send(rt, WA, "late", purpose="reminder")
    assert to(twilio_outbox) == []


@pytest.mark.parametrize(
    "body",
    [
        "alert: [not a mapping]",
        "nonsense: {en: {content_sid: HX" + "a" * 32 + "}}",
        "alert: {en: {content_sid: SM123}}",
        "alert: {en: {content_sid: HX" + "a" * 32 + ', variables: {"1": phone}}}',
    ],
)
def test_a_malformed_template_file_is_refused_with_a_clear_error(tmp_path, body):
    with pytest.raises(ConfigError, match="HOTLINE_WHATSAPP_TEMPLATES"):
        whatsapp_window.load_templates(templates_file(tmp_path, body))


def test_the_example_template_file_in_the_docs_loads():
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "docs" / "whatsapp_templates.example.yaml"
    loaded = whatsapp_window.load_templates(str(example))
    assert ("alert", "en") in loaded and ("alert", "es") in loaded


# ---- a failed alert is reported and its subscriber flagged --------------------------------
def verified_incident(rt) -> str:
    reporter = privacy.contact_id(rt.settings.secret, "+13235550123")
    merge = incidents.merge_report(
        rt.r,
        incidents.Report(reporter, SCENE[0], SCENE[1], 30, "raid", {"label": "2901 E Florence Ave"}, "en", "sms"),
        rt.settings,
        time.time(),
    )
    incidents.set_status(rt.r, merge.incident_id, "verified", time.time(), reason="test", settings=rt.settings)
    return merge.incident_id


def subscribe(rt, address=WA, language="en") -> str:
    contact = cid(rt, address)
    alerts.add_subscriber(rt.r, rt.settings, contact, address, "90255", language, time.time())
    return contact


def run_broadcast(rt, incident_id) -> None:
    rt.r.delete(store.broadcast_key(incident_id))  # verification may have queued one already
    rt.queue("broadcast").enqueue(alerts.broadcast, incident_id)
    SimpleWorker([rt.queue(n) for n in runtime.QUEUE_NAMES], connection=rt.r_raw).work(burst=True)


def test_an_alert_outside_the_window_without_template_is_failed_flagged_and_reported(rt, twilio_outbox):
    rt.settings = rt.settings.replace(send_rate=100000.0)
    contact = subscribe(rt)
    sms_contact = subscribe(rt, "+13235550178")
    incident_id = verified_incident(rt)
    run_broadcast(rt, incident_id)
    assert to(twilio_outbox) == [], "no freeform alert Twilio would fail"
    assert len(to(twilio_outbox, "+13235550178")) == 1, "SMS subscribers are not held to the window"
    meta = rt.r.hgetall(store.broadcast_key(incident_id))
    assert (meta["sent"], meta["failed"], meta["failed_whatsapp"]) == ("1", "1", "1")
    record = json.loads(rt.r.hget(store.broadcast_sends_key(incident_id), contact))
    assert (record["state"], record["code"]) == (outbox.FAILED, 63016), "counted as failed, never as sent"
    assert alerts.flagged(rt.r, contact) == "whatsapp_63016"
    assert alerts.flagged(rt.r, sms_contact) is None
    coordinator = rt.settings.coordinators[0]
    [warning] = to(twilio_outbox, coordinator)
    assert "WhatsApp alerts" in warning["body"] and "63016" in warning["body"]
    assert "alert_undelivered" in [e.get("event") for e in incidents.timeline(rt.r, incident_id)]


def test_an_accepted_alert_that_twilio_fails_later_leaves_the_sent_count(rt, tmp_path, phone, twilio_outbox):
    """The hotline thinks the window is open (its own clock), Twilio's has closed: 63016 by callback."""
    rt.settings = rt.settings.replace(send_rate=100000.0)
    contacts = [subscribe(rt, f"whatsapp:+1323555017{n}") for n in (1, 2)]
    for contact in contacts:
        whatsapp_window.queue_note_inbound(rt.r, contact, time.time() - 3600)  # the fake never saw them write
    incident_id = verified_incident(rt)
    run_broadcast(rt, incident_id)
    assert rt.r.hget(store.broadcast_key(incident_id), "sent") == "2"
    callbacks = twilio_outbox.take_callbacks()
    assert [c["ErrorCode"] for c in callbacks] == ["63016", "63016"]
    for form in callbacks:
        assert phone.post(form, path="/twilio/status").status_code == 200
        assert phone.post(form, path="/twilio/status").status_code == 200, "a redelivered callback counts once"
    meta = rt.r.hgetall(store.broadcast_key(incident_id))
    assert (meta["sent"], meta["failed"]) == ("0", "2")
    assert all(alerts.flagged(rt.r, c) == "whatsapp_63016" for c in contacts)
    SimpleWorker([rt.queue(n) for n in runtime.QUEUE_NAMES], connection=rt.r_raw).work(burst=True)
    assert len(to(twilio_outbox, rt.settings.coordinators[0])) == 1, "coordinators hear once per broadcast"


def test_a_template_error_is_reported_like_the_window(rt, tmp_path, phone, twilio_outbox):
    rt.settings = rt.settings.replace(send_rate=100000.0, whatsapp_templates=templates_file(tmp_path, ALERT_TEMPLATES))
    twilio_outbox.add_template(ALERT_SID, placeholders=3)  # the approved template wants three values
    contact = subscribe(rt)
    incident_id = verified_incident(rt)
    run_broadcast(rt, incident_id)
    [message] = to(twilio_outbox)
    assert message["content_sid"] == ALERT_SID
    [callback] = twilio_outbox.take_callbacks()
    assert phone.post(callback, path="/twilio/status").status_code == 200
    assert alerts.flagged(rt.r, contact) == "whatsapp_63028"
    assert rt.r.hget(store.broadcast_key(incident_id), "failed") == "1"


def test_resubscribing_clears_the_flag(rt, twilio_outbox):
    contact = subscribe(rt)
    rt.r.hset(store.subscriber_key(contact), "flag", "whatsapp_63016")
    subscribe(rt)
    assert alerts.flagged(rt.r, contact) is None


def test_delete_forgets_the_window_too(rt, phone):
    phone.text("hola", from_=WA)
    assert rt.r.exists(store.whatsapp_window_key(cid(rt)))
    contacts.erase(rt.r, cid(rt))
    assert not rt.r.exists(store.whatsapp_window_key(cid(rt)))


def test_flows_check_checks_the_template_file(settings, r, tmp_path):
    from bot import create_app
    from bot.cli.flows import flows_group

    settings = settings.replace(sms_gsm7_languages=("es",))  # as shipped: every text within its segment limit
    bad = create_app(settings.replace(whatsapp_templates=templates_file(tmp_path, "alert: {en: {content_sid: x}}")))
    result = bad.test_cli_runner().invoke(flows_group, ["check"])
    assert result.exit_code == 1 and "HOTLINE_WHATSAPP_TEMPLATES alert.en" in result.output
    english_only = templates_file(tmp_path, "alert: {en: {content_sid: HX" + "c" * 32 + "}}")
    result = (
        create_app(settings.replace(whatsapp_templates=english_only)).test_cli_runner().invoke(flows_group, ["check"])
    )
    assert result.exit_code == 0 and "no alert template for es" in result.output


def test_a_broken_template_file_refuses_the_send_instead_of_crashing_it(rt, tmp_path, twilio_outbox):
    rt.settings = rt.settings.replace(whatsapp_templates=templates_file(tmp_path, "alert: [broken"))
    with pytest.raises(PermanentSend) as raised:
        outbox.send(rt, WA, "An alert", purpose="alert")
    assert raised.value.code == 63016 and to(twilio_outbox) == []
