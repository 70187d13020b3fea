"""A location pin sent before the hotline asks where is kept, not refused."""

from __future__ import annotations

PIN = {"Latitude": "33.97690", "Longitude": "-118.21610"}


def test_pin_while_asked_what_is_kept_and_the_where_question_is_skipped(phone):
    phone.text("hello", from_="+13235550150")
    phone.text("behind the blue house", from_="+13235550150")
    assert "What do you see" in phone.text("by the big tree", from_="+13235550150")[0]  # no place after the retry
    replies = phone.text("", from_="+13235550150", **PIN)
    assert replies[0] == "Location received, thank you." and "What do you see" in replies[1]
    after = phone.text("2", from_="+13235550150")
    assert after[0].startswith("Report ") and "cross streets" not in " ".join(after), "the pin is the place"


def test_pin_acknowledged_in_spanish(phone):
    phone.text("hola", from_="+13235550151")
    phone.text("detras de la casa azul", from_="+13235550151")
    phone.text("por el arbol grande", from_="+13235550151")
    assert phone.text("", from_="+13235550151", **PIN)[0] == "Ubicación recibida, gracias."


def test_first_text_naming_two_activities_prefills_the_one_listed_first(phone):
    replies = phone.text("I see ICE agents detaining someone", from_="+13235550152")
    assert "what do you see" not in replies[0].lower(), "arrest (listed before agents) is pre-filled"
    assert "where is it happening" in replies[0]
