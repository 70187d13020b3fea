"""Report now → a person: dispatchers on shift rung at once, screened; first to press 1 gets the caller;
no answer → the caller is texted the sighting flow's first question through the fake Twilio."""

from __future__ import annotations

import time

import pytest
from voicecall import PUBLIC_URL, Caller, Twiml

from bot import coordinators, i18n, store
from bot.conversation import registry, sessions
from bot.conversation.context import make_context
from bot.voice import calls, menu, missed

MARIA, LUIS = "+13105550161", "+13105550162"


@pytest.fixture
def dispatchers(rt):
    """Two dispatcher accounts with phones, always on (no shifts)."""
    now = time.time()
    for name, e164 in (("maria", MARIA), ("luis", LUIS)):
        coordinators.add(rt.r, name, "correct horse battery staple", "dispatcher", now)
        assert coordinators.set_phone(rt.r, rt.settings.secret, name, e164)
    return {"maria": MARIA, "luis": LUIS}


def _first_question(settings, lang: str) -> str:
    reg = registry.for_folder(settings.flows_dir, settings.locales_dir)
    return make_context(settings, reg, 0.0).translate(reg.current("sighting").steps["where"].text, lang)


def _to_a_person(client, settings, lang_digit: str = "2", number: str = "+13235550177") -> tuple[Caller, Twiml]:
    caller = Caller(client, settings, number)
    caller.ring()
    caller.press(lang_digit)
    return caller, caller.press("1")


def _screen(caller: Caller, number_el) -> Twiml:
    """What a dispatcher's phone runs on picking up (the <Number url=...>), as Twilio posts it for that leg."""
    return caller.follow(number_el.get("url"), CallSid=caller.sid[:-1] + "f", ParentCallSid=caller.sid)


def test_report_now_rings_every_dispatcher_on_shift_at_once_with_screening(client, settings, dispatchers, r):
    caller, twiml = _to_a_person(client, settings)
    assert twiml.verbs() == ["Say", "Dial"]
    dial = twiml.one("Dial")
    assert dial.get("callerId") == settings.twilio_number  # dispatchers' numbers never reach the caller
    assert dial.get("record") == "do-not-record"
    assert dial.get("timeout") == str(settings.voice_ring_s)
    assert dial.get("action").startswith(PUBLIC_URL + "/twilio/voice/dialed?call=" + caller.sid)
    numbers = dial.findall("Number")
    assert sorted(n.text for n in numbers) == sorted(dispatchers.values())
    for n in numbers:
        assert n.get("url").startswith(PUBLIC_URL + "/twilio/voice/screen?call=" + caller.sid)
        assert n.get("statusCallback").startswith(PUBLIC_URL + "/twilio/voice/leg?call=" + caller.sid)
        assert set(n.get("statusCallbackEvent").split()) == {"ringing", "answered", "completed"}
    call = calls.get(r, caller.sid)
    assert call["state"] == "ringing" and sorted(call["dialed"]) == ["luis", "maria"]
    assert MARIA not in str(r.hgetall(store.call_key(caller.sid)))


def test_the_first_dispatcher_to_press_1_gets_the_call_and_the_other_is_told(client, settings, dispatchers, r):
    caller, twiml = _to_a_person(client, settings)
    first, second = twiml.one("Dial").findall("Number")
    whisper = _screen(caller, first)
    assert whisper.verbs() == ["Gather", "Hangup"]  # silence (a voicemail greeting) hangs up, never connects
    assert whisper.says() == [("en-US", "Hotline call from a caller in Spanish. Press 1 to take it.")]
    assert whisper.gather.get("timeout") == str(menu.SCREEN_TIMEOUT_S)
    took = caller.follow(whisper.gather.get("action"), Digits="1")
    assert "Hangup" not in took.verbs()  # an answer without Hangup: Twilio connects this leg
    late_whisper = _screen(caller, second)
    assert "Hangup" in late_whisper.verbs()
    late = caller.follow(whisper.gather.get("action").replace("d=0", "d=1"), Digits="1")
    assert late.verbs() == ["Say", "Hangup"]
    assert late.says()[0][1] == "Another volunteer already took this call. Thank you."
    call = calls.get(r, caller.sid)
    assert call["state"] == "taken" and call["taken_by"] == call["dialed"][0]
    done = caller.follow(twiml.one("Dial").get("action"), DialCallStatus="completed", DialCallDuration="95")
    assert done.verbs() == ["Say", "Hangup"]
    assert calls.get(r, caller.sid)["state"] == "taken"


def test_a_key_other_than_1_or_a_voicemail_never_takes_the_call(client, settings, dispatchers, r):
    caller, twiml = _to_a_person(client, settings)
    whisper = _screen(caller, twiml.one("Dial").findall("Number")[0])
    for key in ("", "2", "*"):
        refused = caller.follow(whisper.gather.get("action"), Digits=key or None)
        assert refused.verbs()[-1] == "Hangup"
    assert "taken_by" not in calls.get(r, caller.sid)


def test_leg_status_callbacks_show_on_the_board(client, settings, dispatchers, r):
    caller, twiml = _to_a_person(client, settings)
    for number, status in zip(twiml.one("Dial").findall("Number"), ("busy", "no-answer")):
        caller.follow(number.get("statusCallback"), CallStatus=status)
    assert sorted(calls.get(r, caller.sid)["legs"].values()) == ["busy", "no-answer"]
    bad = caller.post(twiml.one("Dial").findall("Number")[0].get("statusCallback"), caller.form(CallStatus=""))
    assert bad.status_code == 400


@pytest.mark.parametrize("dial_status", ["no-answer", "busy", "failed", "completed"])
def test_nobody_answers_the_caller_is_texted_the_first_question_in_their_language(
    client, settings, dispatchers, r, worker, twilio_outbox, phone, dial_status
):
    caller, twiml = _to_a_person(client, settings)
    sorry = caller.follow(twiml.one("Dial").get("action"), DialCallStatus=dial_status)
    assert sorry.verbs()[-1] == "Hangup"
    said = [text for _, text in sorry.says()]
    assert said[:2] == [
        i18n.gettext(settings.locales_dir, "es", menu.NOBODY),
        i18n.gettext(settings.locales_dir, "es", menu.TEXTING),
    ]
    assert calls.get(r, caller.sid)["state"] == "missed"
    worker()
    sent = {m["to"]: m["body"] for m in twilio_outbox.messages()}
    assert sent[caller.number] == _first_question(settings, "es")
    coordinator = sent[settings.coordinators[0]]
    assert coordinator.startswith("Missed hotline call at") and "(Spanish)" in coordinator
    assert caller.number.removeprefix("+1") not in coordinator  # never the caller's number
    cid = calls.get(r, caller.sid)["contact_id"]
    session = sessions.load(r, cid)
    assert (session.flow, session.step, session.lang) == ("sighting", "where", "es")
    assert calls.get(r, caller.sid)["texted"] == "1"
    [reply] = phone.text("90255", from_=caller.number)  # their answer continues the flow, in Spanish
    assert sessions.load(r, cid).answers.get("where")
    assert reply and reply != _first_question(settings, "es")


def test_a_retried_text_job_never_restarts_a_conversation_the_caller_already_continued(
    client, settings, dispatchers, r, worker, twilio_outbox, phone
):
    caller, twiml = _to_a_person(client, settings)
    caller.follow(twiml.one("Dial").get("action"), DialCallStatus="no-answer")
    worker()
    phone.text("90255", from_=caller.number)
    cid = calls.get(r, caller.sid)["contact_id"]
    step = sessions.load(r, cid).step
    assert missed.text_caller(caller.sid) in ("sent", "already")
    assert sessions.load(r, cid).step == step
    assert [m["to"] for m in twilio_outbox.messages()].count(caller.number) == 1


def test_no_dispatcher_at_all_goes_straight_to_the_text(client, app, settings, r, worker, twilio_outbox):
    from bot import create_app

    lonely = create_app(settings.replace(coordinators=()))
    caller = Caller(lonely.test_client(), settings)
    caller.ring()
    caller.press("1")
    twiml = caller.press("1")
    assert "Dial" not in twiml.verbs() and twiml.verbs()[-1] == "Hangup"
    assert calls.get(r, caller.sid)["state"] == "missed"


def test_a_dispatcher_off_shift_is_not_rung_and_escalation_numbers_stand_in(client, settings, rt, r):
    now = time.time()
    coordinators.add(rt.r, "night", "correct horse battery staple", "dispatcher", now)
    coordinators.set_phone(rt.r, settings.secret, "night", MARIA, "mon-sun 03:00-03:01", "UTC")
    _caller, twiml = _to_a_person(client, settings)
    numbers = [n.text for n in twiml.one("Dial").findall("Number")]
    # 03:00-03:01 UTC is on shift one minute a day; otherwise HOTLINE_COORDINATORS is rung instead
    assert numbers in ([MARIA], list(settings.coordinators))


def test_option_2_texts_the_caller_and_ends_the_call(client, settings, r, worker, twilio_outbox):
    caller = Caller(client, settings)
    caller.ring()
    caller.press("1")
    twiml = caller.press("2")
    assert twiml.verbs() == ["Say", "Say", "Hangup"]
    worker()
    [message] = [m for m in twilio_outbox.messages() if m["to"] == caller.number]
    assert message["body"] == _first_question(settings, "en")
    assert calls.get(r, caller.sid)["state"] == "texted"
    assert not [m for m in twilio_outbox.messages() if m["to"] in settings.coordinators]


def test_a_landline_or_withheld_number_is_not_texted_and_hears_how_else_to_report(client, settings, r, worker):
    for number in ("+442079460000", "+266696687", "anonymous"):
        caller = Caller(client, settings, number)
        caller.ring()
        caller.press("1")
        twiml = caller.press("2")
        assert twiml.says()[0][1] == menu.CANNOT_TEXT
    assert not missed.can_text("+442079460000", "US") and missed.can_text("+13235550177", "US")


def test_an_opted_out_caller_is_never_texted(client, settings, r, phone, worker, twilio_outbox):
    phone.text("STOP", from_="+13235550177")
    caller = Caller(client, settings)
    caller.ring()
    caller.press("1")
    assert caller.press("2").says()[0][1] == menu.CANNOT_TEXT
    worker()
    assert not [m for m in twilio_outbox.messages() if m["to"] == caller.number]


def test_a_finished_call_and_its_dialed_legs_are_deleted_at_twilio(
    client, settings, dispatchers, r, worker, release_scheduled, twilio_outbox
):
    sid = twilio_outbox.add_call(settings.twilio_account_sid, "+13235550177", settings.twilio_number)
    legs = twilio_outbox.dial(sid, [MARIA, LUIS])
    caller = Caller(client, settings)
    caller.sid = sid
    caller.ring()
    caller.follow("/twilio/voice/status", CallStatus="completed")
    assert release_scheduled(200) == 1
    worker()  # the call is still in progress at Twilio: 20009, RQ retries later
    assert sid not in twilio_outbox.deleted()
    for leg_sid in legs:
        twilio_outbox.set_call_status(leg_sid, "no-answer")
    twilio_outbox.set_call_status(sid, "completed")
    assert release_scheduled(200) == 1
    worker()
    assert sorted(twilio_outbox.deleted()) == sorted([sid, *legs])
    assert twilio_outbox.calls() == []


def test_the_fake_answers_the_calls_api_as_strictly_as_twilio(rt, twilio_outbox):
    from twilio.base.exceptions import TwilioRestException

    client = rt.twilio
    sid = twilio_outbox.add_call(rt.settings.twilio_account_sid, "+13235550177", rt.settings.twilio_number)
    assert client.calls(sid).fetch().status == "in-progress"
    with pytest.raises(TwilioRestException) as refused:
        client.calls(sid).delete()
    assert (refused.value.status, refused.value.code) == (400, 20009)
    assert client.calls(sid).update(status="completed").status == "completed"
    with pytest.raises(TwilioRestException) as bad:
        client.calls(sid).update(status="ringing")
    assert bad.value.code == 21218
    assert client.calls(sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        client.calls(sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_with_redis_down_a_caller_still_gets_the_menu_and_a_person(settings, blip_redis, twilio_outbox):
    from bot import create_app

    app = create_app(settings.replace(redis_url=blip_redis.url))
    caller = Caller(app.test_client(), settings)
    caller.ring()
    blip_redis.stop()
    caller.press("2")
    twiml = caller.press("1")
    assert [n.text for n in twiml.one("Dial").findall("Number")] == list(settings.coordinators)
    whisper = caller.follow(twiml.one("Dial").find("Number").get("url"))
    assert "Hangup" not in caller.follow(whisper.gather.get("action"), Digits="1").verbs()  # connect, not lose
    missed_call = caller.follow(twiml.one("Dial").get("action"), DialCallStatus="no-answer")
    assert missed_call.verbs()[-1] == "Hangup"  # told what to do, never a 500
    blip_redis.start()


def test_withheld_callers_share_no_language_and_a_dispatcher_calling_is_not_rung(
    client, settings, dispatchers, r, phone
):
    spanish = Caller(client, settings, "anonymous")
    spanish.ring()
    spanish.press("2")
    assert not r.keys(store.contact_key("*"))  # nobody's preference: the next withheld caller starts neutral
    maria_calls = Caller(client, settings, MARIA)
    maria_calls.ring()
    maria_calls.press("1")
    numbers = [n.text for n in maria_calls.press("1").one("Dial").findall("Number")]
    assert numbers == [LUIS]
