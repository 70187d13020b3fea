"""An action mid-flow, later steps updating what it created: the flow language and its check.

Issue 11's fast intake files the report as soon as place and activity are known,
then keeps asking and updates it. The engine runs a `do:` step and walks on to
the next step in the same turn; the checker holds the later action to what it
reads — here the earlier action's result, declared as its type.
"""

from __future__ import annotations

import pytest

from bot import actions, privacy, runtime
from bot.channels import Inbound
from bot.conversation import check_paths, respond
from bot.conversation.loader import load_flow_text

FLOW = """flow: quick
languages: [en]
start: what
steps:
  what:
    ask: "What? Reply 1 raid, 2 other"
    expect:
      choice:
        raid: "1 | raid"
        other: "2 | other"
    save: what
    retries: 0
    on_fail: sorry
    next: open
  open:
    do: test.open
    save: opened
    on_error: sorry
    next: count
  count:
    ask: "Sent as {opened.id}. How many agents?"
    expect:
      number: {min: 0, max: 500}
    save: agents
    retries: 0
    on_fail: done
    next: add
  add:
    do: test.add
    on_error: done
    next: done
  done:
    say: "Thanks."
    end: true
  sorry:
    say: "Sorry."
    end: true
"""

GLOBALS = """triggers:
  - words: "go"
    flow: quick
"""

CALLS: list[actions.ActionCall] = []


def _open(rt, call):
    CALLS.append(call)
    return {"id": "Q1"}


def _add(rt, call):
    CALLS.append(call)
    return {}


@pytest.fixture
def declared():
    """Declare the two test actions the way an owner module does, and forget them afterwards."""
    CALLS.clear()
    actions.action("test.open", reads=(actions.read("what", "choice", required=True),), returns=("id",))(_open)
    actions.action(
        "test.add",
        reads=(actions.read("opened", "test.open", required=True), actions.read("agents", "number")),
    )(_add)
    yield actions.declared()
    for name in ("test.open", "test.add"):
        actions._declared.pop(name, None)


def _issues(source: str, table) -> list[str]:
    from bot.conversation.check import check_flow

    flow, issues = load_flow_text("quick.yaml", source)
    assert issues == [] and flow is not None
    return [i.message for i in check_flow(flow, actions=table)]


def test_a_later_action_reading_an_earlier_result_checks_clean(declared):
    assert _issues(FLOW, declared) == []


def test_a_later_action_whose_input_the_flow_forgot_to_save_fails(declared):
    broken = FLOW.replace("    do: test.open\n    save: opened\n", "    do: test.open\n")
    assert _issues(broken, declared) == [
        "template variable {opened} is used before any step saves it",
        "test.add needs 'opened' (the result of test.open) saved before step 'add': no step saves it",
    ]


def test_the_update_is_skipped_when_the_first_action_failed(declared):
    # on_error of the first action goes on asking: that path has no result to update
    rerouted = FLOW.replace("    on_error: sorry\n    next: count\n", "    on_error: count\n    next: count\n")
    assert "some path from start reaches the step without it" in " ".join(_issues(rerouted, declared))


def test_an_action_runs_mid_flow_and_a_later_step_updates_what_it_made(declared, rt, tmp_path, r):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "quick.yaml").write_text(FLOW, encoding="utf-8")
    (flows / "_globals.yaml").write_text(GLOBALS, encoding="utf-8")
    assert check_paths([str(flows)], str(tmp_path)) == []
    hot = runtime.Runtime(settings=rt.settings.replace(flows_dir=str(flows)), redis_url=rt.redis_url)
    e164 = "+13235550166"
    cid = privacy.contact_id(hot.settings.secret, e164)

    def text(n: int, body: str) -> list[str]:
        return respond(hot, cid, Inbound("sms", e164, body, f"SMmid{n}"), 1_780_000_000.0 + n, declared)

    assert text(1, "go") == ["What? Reply 1 raid, 2 other"]
    assert text(2, "1") == ["Sent as Q1. How many agents?"]  # the action ran, and the flow went on
    assert [c.name for c in CALLS] == ["test.open"] and CALLS[0].answers["what"] == "raid"
    assert text(3, "4") == ["Thanks."]
    assert [c.name for c in CALLS] == ["test.open", "test.add"]
    assert CALLS[1].answers["opened"] == {"id": "Q1"} and CALLS[1].answers["agents"] == 4
