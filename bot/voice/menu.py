"""The TwiML a caller and a dispatcher hear, built with the `twilio` library's VoiceResponse.

Pure functions of settings, language and URLs: no Redis, no request. Every
sentence is a gettext msgid (English is the source, `locales/es` the Spanish),
so what a caller hears is translated, reviewed and checked like every text.
Each language is spoken with its own `<Say>` language and voice
(HOTLINE_VOICE_SAY). Know-your-rights is read from flows/rights.yaml itself,
so the phone never says something the rights flow does not.
"""

from __future__ import annotations

from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from .. import i18n
from ..conversation import registry, templates
from ..conversation.context import make_context
from ..conversation.engine import words_for
from ..conversation.model import Session
from ..i18n import N_, fold

# TRANSLATORS: said in each language's own voice, one after the other; translate as the offer of
# YOUR language ("Para español, oprima {digit}."), not as a sentence about English.
LANGUAGE_OFFER = N_("Community hotline. For English, press {digit}.")
MENU = N_(
    "To report immigration activity now and talk to a volunteer, press 1. "
    "To get a text message so you can report by text, press 2. "
    "To hear your rights, press 3."
)
NOT_UNDERSTOOD = N_("Sorry, I didn't get that.")
CONNECTING = N_("Connecting you to a volunteer. Please stay on the line.")
NOBODY = N_("Sorry, no volunteer could pick up right now.")
TEXTING = N_(
    "We are sending you a text message now. Reply to it to report what you see, and observers will be alerted."
)
CANNOT_TEXT = N_("We cannot text this phone. Please text this number from a cell phone, or call again.")
GOODBYE = N_("Thank you for calling. Stay safe. Goodbye.")
RIGHTS_MENU = N_(
    "Know your rights. If agents are at your door, press 1. If you are stopped on the street or in a car, "
    "press 2. At work, press 3. If someone was detained, press 4."
)
RIGHTS_NEXT = N_("To hear your rights again, press 3. To talk to a volunteer, press 1.")
HUMAN = N_("Questions? Call {human_number}.")
SCREEN = N_("Hotline call from a caller in {language}. Press 1 to take it.")
SCREEN_GONE = N_("Another volunteer already took this call. Thank you.")
SCREEN_TAKEN = N_("Connecting you to the caller now.")

DIGIT_TIMEOUT_S = 6
"""Seconds a caller has to press a key after a prompt ends."""

SCREEN_TIMEOUT_S = 8
"""Seconds a dispatcher has to press 1; a voicemail greeting runs longer and is never connected."""

MENU_WORDS = {
    "1": ("1", "one", "uno", "report", "reportar", "volunteer", "voluntario", "person", "persona"),
    "2": ("2", "two", "dos", "text", "texto", "mensaje", "message"),
    "3": ("3", "three", "tres", "rights", "derechos"),
}
"""What picks a main-menu option when speech is on (HOTLINE_VOICE_SPEECH); a key press always does."""

LANGUAGE_WORDS = {"en": ("english", "ingles"), "es": ("espanol", "spanish")}
"""Spoken language names that pick a language (folded: no accents)."""

RIGHTS_FLOW = "rights"
RIGHTS_MENU_STEP = "menu"


def say_spec(settings, lang: str) -> tuple[str, str]:
    """(language, voice) of `<Say>` for a hotline language (HOTLINE_VOICE_SAY), e.g. ("es-US", "Polly.Lupe")."""
    for item in settings.voice_say:
        key, _, spec = item.partition("=")
        if key.strip() == lang:
            code, _, voice = spec.partition(":")
            return code.strip(), voice.strip()
    return ("en-US", "Polly.Joanna") if lang == "en" else (lang, "")


def url(settings, path: str, **query) -> str:
    """An action URL on the hotline: absolute under PUBLIC_URL (what Twilio signs), else relative."""
    tail = path + ("?" + urlencode({k: v for k, v in query.items() if v not in (None, "")}) if query else "")
    return (settings.public_url or "").rstrip("/") + tail


def text(settings, lang: str, msgid: str, **values) -> str:
    """One sentence in a language, filled."""
    return i18n.gettext(settings.locales_dir, lang, msgid, **values)


def _say(node, settings, lang: str, sentence: str) -> None:
    code, voice = say_spec(settings, lang)
    node.say(sentence, **({"voice": voice} if voice else {}), language=code)


def _gather(settings, lang: str | None, action: str, timeout_s: int = DIGIT_TIMEOUT_S) -> Gather:
    """A one-key Gather that always posts to its action, pressed or not (no input is handled there)."""
    kwargs: dict = {"num_digits": 1, "timeout": timeout_s, "action": action, "action_on_empty_result": True}
    if settings.voice_speech:
        kwargs["input"] = "dtmf speech"
        if lang:
            kwargs["language"] = say_spec(settings, lang)[0]
    else:
        kwargs["input"] = "dtmf"
    return Gather(**kwargs)


def language_menu(settings, attempt: int = 0) -> VoiceResponse:
    """The greeting: each language offers itself in its own voice ("para español, oprima 2")."""
    response = VoiceResponse()
    gather = _gather(settings, None, url(settings, "/twilio/voice/language", attempt=attempt))
    for digit, lang in enumerate(settings.languages, 1):
        if attempt and digit == 1:
            _say(gather, settings, lang, text(settings, lang, NOT_UNDERSTOOD))
        _say(gather, settings, lang, text(settings, lang, LANGUAGE_OFFER, digit=digit))
    response.append(gather)
    response.redirect(url(settings, "/twilio/voice/language", attempt=attempt))
    return response


def pick_language(settings, digits: str, speech: str) -> str | None:
    """The language a key press or a spoken name chose, or None."""
    if digits.isdigit() and 1 <= int(digits) <= len(settings.languages):
        return settings.languages[int(digits) - 1]
    words = fold(speech).split()
    for lang in settings.languages:
        if any(w in words for w in LANGUAGE_WORDS.get(lang, ())):
            return lang
    return None


def main_menu(settings, lang: str, attempt: int = 0, sorry: bool = False) -> VoiceResponse:
    """Report now (a person), a text to report by text, know-your-rights."""
    return _prompt(settings, lang, "/twilio/voice/choice", MENU, attempt, sorry)


def _prompt(settings, lang: str, path: str, msgid: str, attempt: int, sorry: bool) -> VoiceResponse:
    """One spoken menu gathering a key for `path` (repeated with an apology after a miss)."""
    response = VoiceResponse()
    gather = _gather(settings, lang, url(settings, path, lang=lang, attempt=attempt))
    if sorry:
        _say(gather, settings, lang, text(settings, lang, NOT_UNDERSTOOD))
    _say(gather, settings, lang, text(settings, lang, msgid))
    response.append(gather)
    response.redirect(url(settings, path, lang=lang, attempt=attempt))
    return response


def pick(digits: str, speech: str, options=MENU_WORDS) -> str | None:
    """The menu key a key press or spoken words chose, or None."""
    if digits in options:
        return digits
    words = fold(speech).replace(".", " ").split()
    for key, names in options.items():
        if any(w in words for w in names):
            return key
    return None


def dial(settings, lang: str, call_sid: str, dispatchers) -> VoiceResponse:
    """Ring every dispatcher at once, each screened ("press 1 to take it"); caller ID the hotline's number.

    Never recorded. The `action` hears how the dial ended (the no-answer path),
    each leg's status callback tells the board who is ringing.
    """
    response = VoiceResponse()
    _say(response, settings, lang, text(settings, lang, CONNECTING))
    dial_verb = response.dial(
        caller_id=settings.twilio_number,
        action=url(settings, "/twilio/voice/dialed", call=call_sid, lang=lang),
        timeout=settings.voice_ring_s,
        record="do-not-record",
    )
    for index, dispatcher in enumerate(dispatchers):
        dial_verb.number(
            dispatcher.e164,
            url=url(settings, "/twilio/voice/screen", call=call_sid, d=index, lang=lang),
            status_callback=url(settings, "/twilio/voice/leg", call=call_sid, d=index),
            status_callback_event="ringing answered completed",
        )
    return response


def screen(settings, caller_lang: str, call_sid: str, index: int) -> VoiceResponse:
    """What a dispatcher hears on picking up: press 1 to take it; silence (a voicemail) hangs up."""
    response = VoiceResponse()
    language = i18n.language_name(caller_lang)
    gather = _gather(settings, "en", url(settings, "/twilio/voice/screened", call=call_sid, d=index), SCREEN_TIMEOUT_S)
    _say(gather, settings, "en", text(settings, "en", SCREEN, language=language))
    response.append(gather)
    response.hangup()
    return response


def screen_result(settings, taken: bool) -> VoiceResponse:
    """After the dispatcher's key: connect (an empty document ends the whisper) or hang up their leg."""
    response = VoiceResponse()
    _say(response, settings, "en", text(settings, "en", SCREEN_TAKEN if taken else SCREEN_GONE))
    if not taken:
        response.hangup()
    return response


def missed(settings, lang: str, texted: bool) -> VoiceResponse:
    """Nobody picked up: say so, and that a text is on its way (or how else to report)."""
    response = VoiceResponse()
    _say(response, settings, lang, text(settings, lang, NOBODY))
    _say(response, settings, lang, text(settings, lang, TEXTING if texted else CANNOT_TEXT))
    if settings.human_number:
        _say(response, settings, lang, text(settings, lang, HUMAN, human_number=_spoken(settings.human_number)))
    response.hangup()
    return response


def texted(settings, lang: str, sent: bool) -> VoiceResponse:
    """Option 2: the text is on its way; the call ends."""
    response = VoiceResponse()
    _say(response, settings, lang, text(settings, lang, TEXTING if sent else CANNOT_TEXT))
    _say(response, settings, lang, text(settings, lang, GOODBYE))
    response.hangup()
    return response


def goodbye(settings, lang: str) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, settings, lang, text(settings, lang, GOODBYE))
    response.hangup()
    return response


def _spoken(number: str) -> str:
    """A number read digit by digit ("3 1 0 5 5 5 ..."), as a voice should say a phone number."""
    return " ".join(ch for ch in number if ch.isdigit())


# ---- know your rights, from flows/rights.yaml ------------------------------------
def _rights(settings):
    reg = registry.for_folder(settings.flows_dir, settings.locales_dir)
    flow = reg.current(RIGHTS_FLOW)
    if flow is None or RIGHTS_MENU_STEP not in flow.steps:
        return None, None
    return flow, make_context(settings, reg, 0.0)


def rights_menu(settings, lang: str, attempt: int = 0, sorry: bool = False) -> VoiceResponse:
    """The rights topics, as the rights flow's menu offers them, to pick by key."""
    return _prompt(settings, lang, "/twilio/voice/rights", RIGHTS_MENU, attempt, sorry)


def rights_topics(settings, lang: str) -> list[tuple[str, list[str]]]:
    """(topic code, the words that pick it in this language and English) of the rights flow's menu."""
    flow, ctx = _rights(settings)
    if flow is None:
        return []
    expect = flow.steps[RIGHTS_MENU_STEP].expect
    return [(o.code, words_for(ctx, o.words, lang)) for o in (expect.choices if expect else ())]


def pick_topic(settings, lang: str, digits: str, speech: str) -> str | None:
    """The rights topic a key press or spoken words chose (the flow's own choice words), or None."""
    said = [digits] if digits else fold(speech).split()
    for code, words in rights_topics(settings, lang):
        folded = {fold(w) for w in words}
        if any(w in folded for w in said):
            return code
    return None


def rights_sentences(settings, lang: str, topic: str | None) -> list[str]:
    """What the rights flow says for one topic (None: every topic), in the caller's language."""
    flow, ctx = _rights(settings)
    if flow is None:
        return []
    menu_step = flow.steps[RIGHTS_MENU_STEP]
    codes = [topic] if topic else [code for code, _ in rights_topics(settings, lang)]
    session = Session(lang=lang)
    out = []
    for code in codes:
        step = flow.steps.get(menu_step.cases.get(code, ""))
        if step is not None and step.text is not None:
            out.append(templates.render(ctx, session, flow, step.text))
    return out


def rights(settings, lang: str, topic: str | None) -> VoiceResponse:
    """Read one topic (or all, for a caller who pressed nothing twice), then offer rights again or a person."""
    response = VoiceResponse()
    for sentence in rights_sentences(settings, lang, topic):
        _say(response, settings, lang, sentence)
    if settings.human_number:
        _say(response, settings, lang, text(settings, lang, HUMAN, human_number=_spoken(settings.human_number)))
    gather = _gather(settings, lang, url(settings, "/twilio/voice/choice", lang=lang, after="rights"))
    _say(gather, settings, lang, text(settings, lang, RIGHTS_NEXT))
    response.append(gather)
    response.redirect(url(settings, "/twilio/voice/choice", lang=lang, after="rights"))
    return response
