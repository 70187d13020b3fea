"""One record per answer type and step kind, held to the parser, the loader and the docs."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.conversation import inputs
from bot.conversation.answer_types import STEPS, TYPES
from bot.conversation.engine import parse
from bot.conversation.inputs import Answer, Parsed
from bot.conversation.loader import load_flow_text
from bot.conversation.model import Context

DOCS = Path(__file__).resolve().parent.parent / "docs" / "flows.md"
LA = ZoneInfo("America/Los_Angeles")


def _ctx() -> Context:
    return Context(get_flow=lambda n, v: None, translate=lambda t, lang: t.source, gettext=lambda m, lang: m, now=0)


def _ask(expect: str) -> str:
    return f'flow: one\nstart: q\nsteps:\n  q:\n    ask: "?"\n    expect: {expect}\n    save: a\n    next: q\n'


@pytest.mark.parametrize("name", sorted(TYPES))
def test_each_types_options_are_its_parsers_parameters(name):
    params = set(inspect.signature(TYPES[name].parser).parameters) - {"answer", "scan"}
    if name == "choice":
        params -= {"options"}  # the choices themselves, read from the codes
    assert params == set(TYPES[name].options)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_each_types_doc_example_loads_and_parses_its_sample(name):
    kind = TYPES[name]
    flow, issues = load_flow_text("one.yaml", _ask(kind.example))
    assert issues == [] and flow is not None
    step = flow.steps["q"]
    assert step.expect.kind == name
    answer, value = kind.sample
    now = dt.datetime(2026, 5, 1, 12, 0, tzinfo=LA).timestamp()
    result = parse(_ctx(), step, Answer(answer, now), "en")
    assert isinstance(result, Parsed), result
    if name == "datetime":
        assert result.category == value
    elif name == "location":
        assert result.value["precision"] == value
    else:
        assert result.value == value


def _table(doc: str, heading: str) -> dict[str, list[str]]:
    """Return the first table under a heading as {first cell's `name`: the other cells}."""
    section = doc.split(heading, 1)[1]
    rows = {}
    for line in section.split("\n|---", 1)[1].split("\n")[1:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_the_docs_list_every_answer_type_and_step_kind():
    doc = DOCS.read_text(encoding="utf-8")
    assert list(_table(doc, "## What an ask can expect")) == list(TYPES)
    kinds = _table(doc, "## Step kinds")
    assert list(kinds) == list(STEPS)
    for name, kind in STEPS.items():
        cell = re.sub(r"\([^)]*\)", "", kinds[name][1])  # the keys, without their explanations
        documented = set(re.findall(r"`([a-z_]+)", cell)) - {"note"} | ({"end"} if "end: true" in cell else set())
        assert documented == set(kind.keys), (name, documented ^ set(kind.keys))


def test_past_only_false_takes_the_coming_clock_time():
    noon = dt.datetime(2026, 5, 1, 12, 0, tzinfo=LA).timestamp()
    ahead = inputs.datetime(Answer("at 5pm", noon), past_only=False, timezone="America/Los_Angeles")
    assert ahead.category == "future" and ahead.value == dt.datetime(2026, 5, 1, 17, 0, tzinfo=LA).timestamp()
    before = inputs.datetime(Answer("at 5pm", noon), past_only=True, timezone="America/Los_Angeles")
    assert before.category == "past" and before.value == dt.datetime(2026, 4, 30, 17, 0, tzinfo=LA).timestamp()
    earlier = inputs.datetime(Answer("at 11am", noon), past_only=False, timezone="America/Los_Angeles")
    assert earlier.value == dt.datetime(2026, 5, 1, 11, 0, tzinfo=LA).timestamp()


def test_the_loader_refuses_an_option_of_the_wrong_type():
    _, issues = load_flow_text("one.yaml", _ask("{number: {min: ten}}"))
    assert [i.message for i in issues] == ["option min of number must be a number, got 'ten'"]
    _, issues = load_flow_text("one.yaml", _ask("{datetime: {past_only: maybe}}"))
    assert [i.message for i in issues] == ["option past_only of datetime must be true or false, got 'maybe'"]
