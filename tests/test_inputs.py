"""Typed answer parsers: what people really type, in English and Spanish, never an exception."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.conversation import inputs
from bot.conversation.answer_types import TYPES
from bot.conversation.inputs import Ambiguous, Answer, Parsed, Rejected

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2026, 5, 4, 16, 0, tzinfo=LA).timestamp()  # 4:00pm in Los Angeles
BOUNDS = (33.2, -119.0, 34.9, -116.9)
OPTIONS = [
    ("raid", ["1", "raid", "redada"]),
    ("checkpoint", ["3", "checkpoint", "reten", "punto de control"]),
    ("other", ["5", "other", "otro"]),
]


def ans(text: str, **kw) -> Answer:
    return Answer(text, NOW, bounds=BOUNDS, **kw)


@pytest.mark.parametrize(
    "text,code",
    [
        ("1", "raid"),
        (" 1. ", "raid"),
        ("Raid", "raid"),
        ("REDADA!!", "raid"),
        ("redadda", "raid"),
        ("checkpont", "checkpoint"),
        ("Retén", "checkpoint"),
        ("hay un punto de control", "checkpoint"),
        ("I see a checkpoint", "checkpoint"),
        ("otro", "other"),
    ],
)
def test_choice_accepts_numbers_words_accents_and_misspellings(text, code):
    assert inputs.choice(ans(text), OPTIONS) == Parsed(code, code, text)


@pytest.mark.parametrize("text", ["", "   ", "purple", "7", "🙏", "x" * 5000])
def test_choice_rejects_what_matches_nothing(text):
    assert isinstance(inputs.choice(ans(text), OPTIONS), Rejected)


def test_choice_refuses_two_options_when_one_is_asked():
    assert inputs.choice(ans("1 or 3"), OPTIONS).reason == "Please pick just one option."


def test_multiple_choice_keeps_codes_in_the_order_written():
    assert inputs.choice(ans("3, 1 and redada"), OPTIONS, multiple=True).value == ["checkpoint", "raid"]


def test_scanning_a_sentence_ignores_bare_numbers_and_misspellings():
    assert isinstance(inputs.choice(ans("1 van at 3rd st"), OPTIONS, scan=True), Rejected)
    assert inputs.choice(ans("redada en la Pacific"), OPTIONS, scan=True).value == "raid"


@pytest.mark.parametrize(
    "text,code",
    [
        ("yes", "yes"),
        ("Sí", "yes"),
        ("si", "yes"),
        ("Y", "yes"),
        ("claro", "yes"),
        ("no", "no"),
        ("Nope", "no"),
        ("not sure", "unknown"),
        ("no sé", "unknown"),
        ("No se", "unknown"),
        ("idk", "unknown"),
    ],
)
def test_yes_no_reads_both_languages_and_not_sure(text, code):
    assert inputs.yes_no(ans(text), unknown=True).value == code


def test_yes_no_without_unknown_rejects_not_sure_politely():
    assert inputs.yes_no(ans("maybe")).reason == "Please reply YES or NO."


@pytest.mark.parametrize(
    "text,value",
    [
        ("5", 5),
        ("about 12", 12),
        ("five", 5),
        ("cinco", 5),
        ("veinte", 20),
        ("twenty five", 25),
        ("treinta y dos", 32),
        ("veintitres", 23),
        ("a dozen", 12),
        ("una docena", 12),
        ("un agente", 1),
    ],
)
def test_number_reads_digits_and_number_words(text, value):
    assert inputs.number(ans(text)).value == value


def test_number_pair_reads_agents_and_vehicles():
    assert inputs.number(ans("4 agents 2 cars"), count=2).value == [4, 2]
    assert inputs.number(ans("cinco agentes y dos camionetas"), count=2).value == [5, 2]
    assert inputs.number(ans("3"), count=2).value == [3, None]


def test_number_rejects_out_of_range_and_wordless_answers():
    assert isinstance(inputs.number(ans("9000"), max=500), Rejected)
    assert isinstance(inputs.number(ans("lots"), max=500), Rejected)


@pytest.mark.parametrize(
    "text,minutes_ago",
    [
        ("now", 0),
        ("ahora", 0),
        ("right now!", 0),
        ("ahorita", 0),
        ("20 min ago", 20),
        ("hace 20 minutos", 20),
        ("hace veinte minutos", 20),
        ("an hour ago", 60),
        ("hace una hora", 60),
        ("half an hour ago", 30),
        ("hace media hora", 30),
        ("3:15pm", 45),
        ("3:15 PM", 45),
        ("15:15", 45),
        ("a las 3", 60),
        ("at 3", 60),
    ],
)
def test_datetime_reads_now_relative_and_clock_times(text, minutes_ago):
    parsed = inputs.datetime(ans(text), timezone="America/Los_Angeles")
    assert isinstance(parsed, Parsed)
    assert parsed.value == int(NOW - minutes_ago * 60)


def test_a_clock_time_later_today_means_yesterday_within_the_limit():
    parsed = inputs.datetime(ans("11pm"), timezone="America/Los_Angeles")
    assert parsed.value == int(NOW - 17 * 3600)
    assert isinstance(inputs.datetime(ans("11pm"), timezone="America/Los_Angeles", max_age="2h"), Rejected)


def test_datetime_rejects_garble():
    assert isinstance(inputs.datetime(ans("blue")), Rejected)
    assert isinstance(inputs.datetime(ans("25:99")), Rejected)


def test_location_places_cross_streets_zip_and_pins():
    assert inputs.location(ans("Pacific y Florence")).value["precision"] == "street"
    assert inputs.location(ans("90011")).value["source"] == "zip"
    pin = inputs.location(ans("", lat=33.97, lon=-118.22))
    assert pin.value["lat"] == 33.97 and pin.category == "exact"
    assert isinstance(inputs.location(ans("behind the blue house")), Rejected)


def test_location_scan_finds_the_place_after_en_and_drops_the_time():
    found = inputs.location(ans("migra en Pacific y Florence ahora"), scan=True)
    assert isinstance(found, Parsed) and found.value["precision"] == "street"
    assert isinstance(inputs.location(ans("hay migra"), scan=True), Rejected)


def test_phone_returns_e164_and_never_keeps_the_number_as_raw():
    parsed = inputs.phone(ans("call me at (213) 555-0123"))
    assert parsed.value == "+12135550123" and parsed.raw == ""
    assert isinstance(inputs.phone(ans("12")), Rejected)


def test_media_takes_attachments_or_a_skip_word():
    assert inputs.media(ans("", media=("https://x/1",))).value == ["https://x/1"]
    assert inputs.media(ans("skip"), skip=["skip", "saltar"]).category == "skipped"
    assert isinstance(inputs.media(ans("hmm")), Rejected)


def test_text_trims_caps_and_matches_patterns():
    assert inputs.text(ans("  two   vans  ")).value == "two vans"
    assert inputs.text(ans("x" * 50), max_length=10).value == "x" * 10
    assert inputs.text(ans("zip is 90011 thanks"), pattern=r"\b\d{5}\b").value == "90011"
    assert isinstance(inputs.text(ans("9001"), pattern=r"\b\d{5}\b"), Rejected)
    assert isinstance(inputs.text(ans("   ")), Rejected)


@pytest.mark.parametrize("kind", sorted(TYPES))
@pytest.mark.parametrize("text", ["", "\x00\x01", "🙏" * 900, "ñ" * 2000, "{}{0}%s", "'; DROP TABLE"])
def test_no_parser_raises_on_garbled_text(kind, text):
    parser = TYPES[kind].parser
    result = parser(ans(text), [("a", ["1", "a"])]) if kind == "choice" else parser(ans(text))
    assert isinstance(result, (Parsed, Rejected, Ambiguous))
