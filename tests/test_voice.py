"""The voice line's menu through signed webhooks: language first, then report / text / rights; never a dead end."""

from __future__ import annotations

from pathlib import Path

import pytest
from voicecall import PUBLIC_URL, Caller

from bot import i18n, store
from bot.conversation import registry
from bot.conversation.context import make_context
from bot.voice import menu


@pytest.fixture
def caller(client, settings):
    return Caller(client, settings)


def _flow_text(settings, flow: str, step: str, lang: str) -> str:
    reg = registry.for_folder(settings.flows_dir, settings.locales_dir)
    ctx = make_context(settings, reg, 0.0)
    return ctx.translate(reg.current(flow).steps[step].text, lang)


def test_a_call_hears_each_language_offered_in_its_own_voice(caller, settings):
    twiml = caller.ring()
    assert twiml.verbs() == ["Gather", "Redirect"]
    gather = twiml.gather
    assert gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
    assert gather.get("action") == PUBLIC_URL + "/twilio/voice/language?attempt=0"
    (en_lang, en), (es_lang, es) = twiml.says(gather)
    assert en_lang == "en-US" and en.endswith("For English, press 1.")
    assert es_lang == "es-US" and es.endswith("Para español, oprima 2.")
    voices = {s.get("voice") for s in gather.iter("Say")}
    assert voices == {"Polly.Joanna", "Polly.Lupe"}  # HOTLINE_VOICE_SAY's defaults


def test_spanish_on_the_phone_is_remembered_for_a_later_text(caller, phone, settings, r):
    caller.ring()
    twiml = caller.press("2")
    assert {lang for lang, _ in twiml.says()} == {"es-US"}
    assert twiml.spoken() == i18n.gettext(settings.locales_dir, "es", menu.MENU)
    assert "oprima 1" in twiml.spoken()
    [reply] = phone.text("hola", from_=caller.number)
    assert reply == _flow_text(settings, "sighting", "where", "es")  # no Spanish guessed from "hola" alone


def test_english_is_remembered_too_and_overrides_an_older_spanish(caller, phone, settings, r):
    phone.text("ESPAÑOL", from_=caller.number)
    caller.ring()
    caller.press("1")
    [reply] = phone.text("hi", from_=caller.number)
    assert reply == _flow_text(settings, "sighting", "where", "en")


def test_silence_at_the_language_menu_repeats_it_once_then_uses_the_remembered_language(caller, phone, settings):
    phone.text("ESPAÑOL", from_=caller.number)  # this number chose Spanish by text last week
    caller.ring()
    again = caller.press("")
    assert again.gather.get("action").endswith("attempt=1")
    assert again.says()[0] == ("en-US", "Sorry, I didn't get that.")
    default = caller.press("")
    assert {lang for lang, _ in default.says()} == {"es-US"}  # their language, not a dead end


def test_a_garbled_key_at_the_language_menu_defaults_to_the_first_language(caller):
    caller.ring()
    caller.press("9")
    twiml = caller.press("#")
    assert {lang for lang, _ in twiml.says()} == {"en-US"}
    assert "press 1" in twiml.spoken()


def test_the_main_menu_repeats_once_then_puts_the_caller_through_to_a_person(caller, settings):
    caller.ring()
    caller.press("1")
    again = caller.press("7")
    assert again.says()[0][1] == "Sorry, I didn't get that."
    twiml = caller.press("")
    dial = twiml.one("Dial")  # the default for someone who cannot press keys: a person
    assert [n.text for n in dial.iter("Number")] == list(settings.coordinators)


def test_know_your_rights_reads_the_rights_flow_in_the_callers_language(caller, settings):
    caller.ring()
    caller.press("2")
    rights_menu = caller.press("3")
    assert rights_menu.gather.get("action").startswith(PUBLIC_URL + "/twilio/voice/rights")
    assert rights_menu.spoken() == i18n.gettext(settings.locales_dir, "es", menu.RIGHTS_MENU)
    twiml = caller.press("1")
    door = _flow_text(settings, "rights", "door", "es")
    assert door != _flow_text(settings, "rights", "door", "en")
    assert ("es-US", door) in twiml.says()
    assert any("3 1 0 5 5 5 0 1 1 1" in text for _, text in twiml.says())  # HOTLINE_HUMAN_NUMBER, digit by digit
    after = twiml.gather
    assert "after=rights" in after.get("action")
    bye = caller.press("")
    assert bye.verbs() == ["Say", "Hangup"]


def test_rights_topics_can_be_picked_again_or_lead_to_a_person(caller, settings):
    caller.ring()
    caller.press("1")
    caller.press("3")
    caller.press("4")
    again = caller.press("3")
    assert again.gather.get("action").startswith(PUBLIC_URL + "/twilio/voice/rights")
    caller.press("2")
    person = caller.press("1")
    assert person.one("Dial") is not None


def test_a_caller_who_presses_nothing_at_the_rights_menu_hears_every_topic(caller, settings):
    caller.ring()
    caller.press("1")
    caller.press("3")
    caller.press("")
    twiml = caller.press("")
    said = [text for _, text in twiml.says()]
    for step in ("door", "street", "work", "detained"):
        assert _flow_text(settings, "rights", step, "en") in said


def test_speech_picks_choices_when_the_network_turns_it_on(client, settings):
    from bot import create_app

    app = create_app(settings.replace(voice_speech=True))
    caller = Caller(app.test_client(), settings)
    twiml = caller.ring()
    assert twiml.gather.get("input") == "dtmf speech"
    spanish = caller.press("", SpeechResult="Español")
    assert spanish.gather.get("language") == "es-US"
    rights = caller.press("", SpeechResult="mis derechos.")
    assert rights.gather.get("action").startswith(PUBLIC_URL + "/twilio/voice/rights")
    twiml = caller.press("", SpeechResult="en el trabajo")
    assert ("es-US", _flow_text(settings, "rights", "work", "es")) in twiml.says()


ROUTES = (
    "/twilio/voice",
    "/twilio/voice/language",
    "/twilio/voice/choice?lang=en",
    "/twilio/voice/rights?lang=en",
    "/twilio/voice/screen?call=CA" + "0" * 32,
    "/twilio/voice/screened?call=CA" + "0" * 32,
    "/twilio/voice/leg?call=CA" + "0" * 32,
    "/twilio/voice/dialed?call=CA" + "0" * 32,
    "/twilio/voice/status",
)


@pytest.mark.parametrize("path", ROUTES)
def test_unsigned_or_wrongly_signed_voice_requests_are_refused(caller, path):
    params = caller.form(Digits="1", CallStatus="completed")
    assert caller.post(path, params, sign=False).status_code == 403
    headers = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    assert caller.client.post(path, data=params, headers=headers).status_code == 403
    signed_elsewhere = caller.validator.compute_signature(PUBLIC_URL + path + "&x=1", params)
    assert caller.client.post(path, data=params, headers={"X-Twilio-Signature": signed_elsewhere}).status_code == 403


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/twilio/voice", {"From": "+13235550177"}),
        ("/twilio/voice", {"CallSid": "CA" + "0" * 32}),
        ("/twilio/voice", {"CallSid": "not-a-sid", "From": "+13235550177"}),
        ("/twilio/voice/choice?lang=en", {"CallSid": "CA" + "x" * 32, "Digits": "1"}),
        ("/twilio/voice/screen?call=../../etc", {"CallSid": "CA" + "0" * 32}),
        ("/twilio/voice/leg?call=CA" + "0" * 32, {"CallSid": "CA" + "1" * 32}),
    ],
)
def test_malformed_voice_requests_get_a_400_never_a_500(caller, path, params):
    response = caller.post(path, params)
    assert response.status_code == 400, response.get_data(as_text=True)


def test_hostile_values_in_a_signed_call_never_break_the_menu(client, settings, r):
    for junk in ("١", "9" * 500, "<Say>", "\x00", "*#", "ｅｓｐａñｏｌ"):
        caller = Caller(client, settings)
        caller.ring()
        for _ in range(3):
            twiml = caller.follow(caller.last.gather.get("action"), Digits=junk, SpeechResult=junk * 50)
            if twiml.root.find(".//Dial") is not None:
                break
            assert twiml.gather is not None
    caller = Caller(client, settings)
    assert caller.follow("/twilio/voice/choice?lang=xx&attempt=zz", Digits="").gather is not None


def test_the_callers_number_is_sealed_at_rest(caller, r):
    caller.ring()
    caller.press("2")
    keys = list(r.scan_iter("*"))
    assert store.call_key(caller.sid) in keys
    dump = [str(r.dump(k)) for k in keys]
    assert not any("3235550177" in d for d in dump)
    assert r.ttl(store.call_key(caller.sid)) > 0


def test_docs_quote_what_callers_really_hear_in_both_languages(settings):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "voice.md").read_text()
    said = (menu.MENU, menu.NOT_UNDERSTOOD, menu.CONNECTING, menu.NOBODY, menu.TEXTING, menu.CANNOT_TEXT)
    for msgid in (*said, menu.RIGHTS_MENU, menu.RIGHTS_NEXT, menu.GOODBYE):
        for lang in ("en", "es"):
            assert i18n.gettext(settings.locales_dir, lang, msgid) in doc, (lang, msgid)
    assert i18n.gettext(settings.locales_dir, "es", menu.LANGUAGE_OFFER, digit=2) in doc
