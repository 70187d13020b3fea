"""No input kills a process: Unicode digits are read as numbers, and a library's panic becomes an apology."""

from __future__ import annotations

import logging

import pytest
import zipcodes

from bot import router
from bot.channels import Inbound

ZIPS = {
    "ascii": "90255",
    "full-width": "９０２５５",
    "math bold": "𝟗𝟎𝟐𝟓𝟓",
    "arabic-indic": "٩٠٢٥٥",
    "devanagari": "९०२५५",
}


def _converse(phone, sender: str, answers: list[str]) -> list[list[str]]:
    return [phone.text(body, from_=sender) for body in answers]


@pytest.mark.parametrize("form", list(ZIPS), ids=list(ZIPS))
def test_a_zip_in_any_script_of_digits_is_understood_like_ascii(phone, form):
    start = ["hola", "1", "redada"]
    expected = _converse(phone, "+13235550990", [*start, ZIPS["ascii"]])[-1]
    got = _converse(phone, "+13235550991", [*start, ZIPS[form]])[-1]
    assert got == expected


def test_the_library_still_panics_on_such_digits():
    """Why the router rewrites digits: `zipcodes` is native code and panics (a BaseException)."""
    with pytest.raises(BaseException) as caught:
        zipcodes.matching("９０２５５")
    assert not isinstance(caught.value, Exception)


def test_a_native_panic_inside_the_path_is_answered_in_the_callers_language(rt, caplog):
    def panicking_subscribe(rt, call):
        zipcodes.matching("９０２５５")  # a real panic from the real library

    actions = {**router.ACTIONS, "alerts.subscribe": panicking_subscribe}
    sid = iter(range(100))

    def text(body: str) -> list[str]:
        return router.handle(rt, Inbound("sms", "+13235550992", body, f"SM{next(sid):032d}"), 0.0, actions)

    caplog.set_level(logging.INFO)
    replies = text("alertas 90255")
    assert replies == [f"Perdón, algo falló. Una persona le puede ayudar: {rt.settings.human_number}"]
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert errors and "PanicException" in errors[0].getMessage()
    assert not any(rec.exc_info for rec in caplog.records), "no traceback is logged"
    assert "90255" not in caplog.text, "the caller's words stay out of the log"
    assert text("hola"), "the process lives on and answers the next text"
