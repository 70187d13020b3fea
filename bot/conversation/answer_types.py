"""Answer types and step kinds: one record each, that the loader, parsers, templates and docs share.

An `expect:` kind used to live in four rooms (the loader's option list, the
parser table, the template display rules, the docs table) and they drifted:
`past_only` was accepted by the loader and ignored by the parser. Now each type
is one `AnswerType` — the options it takes (with their YAML types), its parser,
how a saved value is shown back to the caller, and a doc example that the tests
load and parse — and tests/test_answer_types.py holds each record's options to
its parser's parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel.dates import format_time

from . import inputs
from .model import Step

Show = Callable[[Step, Any, str, Callable[[Any, str], str]], str | None]
"""(step, saved value, language, translate) -> the value in the caller's words, or None for the default."""


@dataclass(frozen=True)
class AnswerType:
    """One `expect:` kind: its options, parser, display and a documented example."""

    name: str
    options: dict[str, tuple[type, ...]]  # option name -> the YAML value types it takes
    parser: Callable[..., Any]
    saves: str  # what is saved, for the docs
    example: str  # an `expect:` value as a coordinator writes it
    sample: tuple[str, Any]  # an answer to the example and the value saved for it (tests)
    show: Show | None = None


def _show_choice(step: Step, value: Any, lang: str, translate: Callable[[Any, str], str]) -> str | None:
    """A choice shows its own word in the caller's language (never the code)."""
    if not isinstance(value, (str, list)) or step.expect is None:
        return None
    labels = []
    for code in value if isinstance(value, list) else [value]:
        option = next((o for o in step.expect.choices if o.code == code), None)
        words = [w.strip() for w in translate(option.words, lang).split("|")] if option else []
        labels.append(next((w for w in words if w and not w.isdigit()), code))
    return ", ".join(labels)


def _show_datetime(step: Step, value: Any, lang: str, translate: Callable[[Any, str], str]) -> str | None:
    """A time is formatted with Babel for the caller's locale, in the step's timezone."""
    if not isinstance(value, (int, float)) or step.expect is None:
        return None
    moment = dt.datetime.fromtimestamp(value, inputs.zone(step.expect.options.get("timezone")))
    return format_time(moment, "short", locale=lang)


_NUMBER = (int, float)
_TEXT = (str,)
_FLAG = (bool,)

TYPES: dict[str, AnswerType] = {
    t.name: t
    for t in (
        AnswerType(
            "choice",
            {"multiple": _FLAG},
            inputs.choice,
            "the code; with `multiple: true` a list of codes",
            '{choice: {raid: "1 | raid | redada", other: "2 | other | otro"}}',
            ("redada", "raid"),
            _show_choice,
        ),
        AnswerType(
            "yes_no",
            {"unknown": _FLAG, "signs": _TEXT},
            inputs.yes_no,
            "`yes`, `no`, `unknown`",
            "{yes_no: {unknown: true}}",
            ("no se", "unknown"),
        ),
        AnswerType(
            "number",
            {"min": _NUMBER, "max": _NUMBER, "count": (int,), "skip": _TEXT},
            inputs.number,
            "a whole number (`count: 2`: two, under two `save` names); a `skip` word saves no number",
            "{number: {min: 0, max: 500}}",
            ("cinco", 5),
        ),
        AnswerType(
            "datetime",
            {"past_only": _FLAG, "max_age": _TEXT, "timezone": _TEXT},
            inputs.datetime,
            "seconds since 1970",
            "{datetime: {max_age: 24h, timezone: America/Los_Angeles}}",
            ("now", "now"),
            _show_datetime,
        ),
        AnswerType(
            "location",
            {},
            inputs.location,
            "`{lat, lon, precision, precision_m, label, source}` or `{raw}`",
            "location",
            ("90011", "zip"),
        ),
        AnswerType(
            "phone",
            {"region": _TEXT},
            inputs.phone,
            "the number, sealed",
            "{phone: {region: US}}",
            ("(213) 555-0123", "+12135550123"),
        ),
        AnswerType(
            "media",
            {"skip": _TEXT},
            inputs.media,
            "a list of links",
            '{media: {skip: "skip | saltar"}}',
            ("saltar", []),
        ),
        AnswerType(
            "text",
            {"max_length": (int,), "skip": _TEXT, "pattern": _TEXT},
            inputs.text,
            "the text, or the part `pattern` matched",
            '{text: {pattern: "\\\\b\\\\d{5}\\\\b"}}',
            ("ZIP 90011 please", "90011"),
        ),
    )
}
"""Every `expect:` kind, in the order the docs list them."""


@dataclass(frozen=True)
class StepKind:
    """One step kind: the key that decides it, the other keys it takes, what it does (for the docs)."""

    name: str
    keys: frozenset[str]
    does: str


STEPS: dict[str, StepKind] = {
    s.name: s
    for s in (
        StepKind(
            "ask",
            frozenset(
                {"expect", "save", "keep_raw", "retries", "invalid", "on_fail", "next", "cases", "also", "default"}
                | {"timeout", "remind"}
            ),
            "sends a question, waits, validates, saves",
        ),
        StepKind("say", frozenset({"next", "end"}), "sends a message and goes on"),
        StepKind("do", frozenset({"save", "on_error", "next"}), "runs a hotline action"),
        StepKind("flow", frozenset({"next"}), "runs another flow, then comes back"),
        StepKind("branch", frozenset({"cases", "next"}), "goes on by a saved value, without asking"),
        StepKind("set", frozenset({"next"}), "saves fixed values"),
        StepKind("end", frozenset(), "ends the flow (`end: true`)"),
    )
}
"""Every step kind; each also takes its own key and `note`."""

EXPECT_KINDS = tuple(TYPES)
"""Typed answers an ask can wait for."""

STEP_KINDS = tuple(STEPS)
"""The key that decides what a step is; a step has exactly one of them."""
