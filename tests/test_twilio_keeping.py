"""What Twilio keeps and answers: deletion of messages and media, OptOutType, GSM-7-safe SMS."""

from __future__ import annotations

import time

from conftest import replies_of
from test_dispatch import add_observer, new_incident

from bot import contacts, dispatch, privacy, store, twilio_retention
from bot.channels import sms
from bot.channels.twilio import StatusUpdate
from bot.cli.flows import flows_group
from bot.twilio_retention import DELETE_AFTER_S

REPORTER = "+13235550123"


def cid(rt, number=REPORTER) -> str:
    return privacy.contact_id(rt.settings.secret, number)


def test_an_inbound_message_and_its_photo_are_deleted_at_twilio_after_processing(
    rt, phone, worker, release_scheduled, twilio_outbox, settings
):
    seeded = twilio_outbox.add_inbound(settings.twilio_account_sid, media=[("image/jpeg", b"\xff\xd8photo")])
    form = phone.form("hello", REPORTER, NumMedia=1, MediaUrl0=seeded["media_urls"][0], MediaContentType0="image/jpeg")
    form["MessageSid"] = seeded["sid"]
    assert phone.post(form).status_code == 200
    assert release_scheduled(DELETE_AFTER_S - 10) == 0, "Twilio refuses a DELETE before the message is complete"
    release_scheduled(DELETE_AFTER_S + 1)
    worker()
    assert twilio_outbox.inbound_left() == []
    deleted = twilio_outbox.deleted()
    assert deleted[-1] == seeded["sid"] and deleted[0].startswith("ME"), "the photo went with its message"


def test_an_outbound_dispatch_text_is_deleted_once_it_settles_and_kept_when_configured(
    rt, worker, release_scheduled, twilio_outbox
):
    add_observer(rt.r, rt.settings, "A", "+12135550101", 1)
    dispatch.enqueue_start(rt, new_incident(rt))
    worker()
    sid = twilio_outbox.messages()[0]["sid"]
    dispatch.record_status(rt, StatusUpdate(sid, "sent", None), time.time())
    release_scheduled(DELETE_AFTER_S + 1)
    worker()
    assert sid not in twilio_outbox.deleted(), "not settled yet: the delivery receipt is still to come"
    dispatch.record_status(rt, StatusUpdate(sid, "delivered", None), time.time())
    release_scheduled(DELETE_AFTER_S + 1)
    worker()
    assert sid in twilio_outbox.deleted()


def test_the_webhook_leaves_a_deletion_waiting_outside_rq_and_the_beat_hands_it_over_once(
    rt, phone, worker, twilio_outbox, settings
):
    from rq.registry import ScheduledJobRegistry

    seeded = twilio_outbox.add_inbound(settings.twilio_account_sid)
    form = phone.form("hello", REPORTER)
    form["MessageSid"] = seeded["sid"]
    phone.post(form)
    scheduled = ScheduledJobRegistry(queue=rt.queue("default")).get_job_ids()
    assert not [j for j in scheduled if "delete_message" in rt.queue("default").fetch_job(j).func_name], (
        "no RQ job built for it on the webhook's path"
    )
    assert twilio_retention.waiting(rt.r) == 1
    now = time.time()
    assert twilio_retention.hand_over(rt, now) == 0, "not due yet: Twilio would answer 20009"
    assert twilio_retention.hand_over(rt, now + DELETE_AFTER_S + 1) == 1
    assert twilio_retention.hand_over(rt, now + DELETE_AFTER_S + 1) == 0, "handed over once, not again"
    assert twilio_retention.waiting(rt.r) == 0
    worker()
    assert twilio_outbox.inbound_left() == []


def test_one_worker_at_a_time_hands_deletions_over(rt, phone, twilio_outbox, settings):
    phone.text("hello", REPORTER)
    later = time.time() + DELETE_AFTER_S + 1
    rt.r.set(store.twilio_handover_key(), "another worker's token", px=60_000)
    assert twilio_retention.hand_over(rt, later) == 0, "another worker is handing over right now"
    assert twilio_retention.waiting(rt.r) == 1, "so the deletion waits for the next beat"
    rt.r.delete(store.twilio_handover_key())
    assert twilio_retention.hand_over(rt, later) == 1
    assert rt.r.get(store.twilio_handover_key()) is None, "the lease is given back"


def test_a_beat_hands_over_a_batch_and_leaves_the_rest_for_the_next(rt, phone):
    for n in range(5):
        phone.text("hello", f"+1323555{n:04d}")
    later = time.time() + DELETE_AFTER_S + 1
    assert twilio_retention.hand_over(rt, later, batch=3) == 3
    assert twilio_retention.hand_over(rt, later, batch=3) == 2
    assert rt.queue("default").count == 5


def test_a_web_chat_message_and_a_kept_account_queue_no_deletion(rt, phone):
    pipe = rt.r.pipeline()
    assert not twilio_retention.queue_schedule(pipe, rt.settings, "web-1f2e", time.time())
    assert twilio_retention.queue_schedule(pipe, rt.settings, "CA" + "0" * 32, time.time()), "a call is Twilio's"
    pipe.execute()
    rt.settings = rt.settings.replace(twilio_retention="keep")
    phone.text("hello", REPORTER)
    assert twilio_retention.waiting(rt.r) == 1, "only the call queued above"


def test_retention_keep_leaves_messages_at_twilio(rt, phone, release_scheduled, worker, twilio_outbox, settings):
    rt.settings = rt.settings.replace(twilio_retention="keep")
    seeded = twilio_outbox.add_inbound(settings.twilio_account_sid)
    form = phone.form("hello", REPORTER)
    form["MessageSid"] = seeded["sid"]
    phone.post(form)
    release_scheduled(DELETE_AFTER_S + 1)
    worker()
    assert twilio_outbox.inbound_left() == [seeded["sid"]]


def test_a_deletion_twilio_refuses_for_now_is_retried(rt, phone, release_scheduled, worker, twilio_outbox, settings):
    seeded = twilio_outbox.add_inbound(settings.twilio_account_sid)
    twilio_outbox.fail_next({"method": "DELETE", "status": 409, "code": 20009, "message": "not complete"})
    form = phone.form("hello", REPORTER)
    form["MessageSid"] = seeded["sid"]
    phone.post(form)
    release_scheduled(DELETE_AFTER_S + 1)
    worker()
    assert twilio_outbox.inbound_left() == [seeded["sid"]]
    release_scheduled(DELETE_AFTER_S + 1)  # RQ's Retry put it back on the schedule
    worker()
    assert twilio_outbox.inbound_left() == []


def test_opt_out_type_honours_the_accounts_own_keywords_and_twilio_already_answered(rt, phone):
    assert phone.text("ALTO", OptOutType="STOP") == [], "Twilio's Advanced Opt-Out answered; no flow starts"
    assert contacts.is_opted_out(rt.r, cid(rt))
    assert rt.r.exists(store.session_key(cid(rt))) == 0
    assert phone.text("VOLVER", OptOutType="START") == []
    assert not contacts.is_opted_out(rt.r, cid(rt))
    assert phone.text("AYUDA", OptOutType="HELP") == []


def test_without_advanced_opt_out_the_hotline_answers_in_the_contacts_language(rt, phone):
    rt.settings = rt.settings.replace(keyword_replies="hotline", sms_gsm7_languages=("es",))
    phone.text("ALTO", OptOutType="STOP")
    pipe = rt.r.pipeline()
    contacts.queue_set_language(pipe, cid(rt), "es")
    pipe.execute()
    assert phone.text("VOLVER", OptOutType="START") == [
        "Esta de vuelta. Escriba lo que ve para reportarlo, o AYUDA para ayuda."
    ]


def test_twilio_default_keyword_handling_means_no_second_help(rt, phone):
    assert phone.text("HELP"), "by default the hotline answers HELP itself"
    rt.settings = rt.settings.replace(keyword_replies="twilio")
    assert phone.text("HELP") == []


def test_spanish_sms_go_gsm7_safe_but_keep_the_letters_gsm7_has(rt, phone):
    rt.settings = rt.settings.replace(sms_gsm7_languages=("es",))
    body = "¿Está a salvo? Sí, señora: ÉXITO, pingüino… “ya”"
    assert sms.gsm7_for(body, ["es"]) == '¿Esta a salvo? Si, señora: ÉXITO, pingüino... "ya"'
    assert sms.segments(sms.gsm7_for(body, ["es"]))[1] == "GSM-7"
    assert sms.gsm7_for(body, []) == body, "a network that wants the accents keeps them"


def test_webhook_replies_by_sms_are_gsm7_safe_and_whatsapp_ones_keep_accents(rt, phone):
    rt.settings = rt.settings.replace(sms_gsm7_languages=("es",))
    pipe = rt.r.pipeline()
    contacts.queue_set_language(pipe, cid(rt), "es")
    contacts.queue_set_language(pipe, cid(rt, "whatsapp:" + REPORTER), "es")
    pipe.execute()
    by_sms = phone.text("AYUDA")
    by_whatsapp = replies_of(phone.send("AYUDA", from_="whatsapp:" + REPORTER).get_data(as_text=True))
    assert all(sms.is_gsm7(body) for body in by_sms)
    assert any(not sms.is_gsm7(body) for body in by_whatsapp), by_whatsapp


def test_the_fake_counts_segments_like_twilio(rt, twilio_outbox):
    from bot import outbox

    rt.settings = rt.settings.replace(sms_gsm7_languages=())
    outbox.send(rt, "+12135550101", "a" * 160, purpose="alert")
    outbox.send(rt, "+12135550101", "a" * 161, purpose="alert")
    outbox.send(rt, "+12135550101", "{" * 80, purpose="alert")  # extension table: two units each
    outbox.send(rt, "+12135550101", "á" * 71, purpose="alert")
    got = [(m["num_segments"], m["encoding"]) for m in twilio_outbox.messages()]
    assert got == [("1", "GSM-7"), ("2", "GSM-7"), ("1", "GSM-7"), ("2", "UCS-2")]
    assert twilio_outbox.messages()[0]["smart_encoded"] == "true"


def test_segments_command_shows_spanish_within_ten_percent_of_english_when_sent_gsm7_safe(rt, runner):
    from bot.cli import segments

    rt.settings = rt.settings.replace(sms_gsm7_languages=("es",))
    result = runner.invoke(flows_group, ["segments"])
    assert result.exit_code == 0, result.output
    assert "| es |" in result.output and "segments as sent" in result.output
    totals = segments.totals(segments.rows(rt.settings))
    en, es = totals["en"], totals["es"]
    assert es["ucs2_written"] > es["texts"] // 3, "as written, many Spanish texts are UCS-2"
    assert es["ucs2_sent"] <= en["ucs2_sent"] and es["segments_sent"] <= en["segments_sent"] * 1.10
    assert es["segments_written"] > en["segments_written"] * 1.1, "the cost the option removes"


def test_flows_check_fails_on_a_text_above_the_configured_segment_limit(rt, runner):
    rt.settings = rt.settings.replace(sms_max_segments=1)
    result = runner.invoke(flows_group, ["check"])
    assert result.exit_code == 1
    assert "SMS segments as sent" in result.output and "the limit is 1" in result.output
