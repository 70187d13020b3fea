"""The flow check fires at the exact line for each mistake a coordinator can make."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation import check_paths
from bot.conversation.check_texts import segments

ROOT = Path(__file__).resolve().parent.parent
BROKEN = Path(__file__).parent / "flows" / "broken"
GLOBALS = ROOT / "flows" / "_globals.yaml"
LOCALES = ROOT / "locales"

EXPECTED = {
    "syntax.yaml": ["5:4: YAML syntax: expected <block end>, but found '<block mapping start>'"],
    "unknown_key.yaml": [
        "4:3: no path from step 'hello' ever ends (add end: true somewhere after it)",
        "6:5: unknown key 'nxt' in say step 'hello' (known: end, next, note, say)",
        "7:11: next of step 'hello' names no step: 'bye'",
        "9:5: unknown step kind 'shout' in step 'bye' (known: ask, say, do, flow, branch, set, end)",
        "10:3: step 'done' is unreachable from start 'hello'",
    ],
    "missing_target.yaml": ["10:11: cases.no of step 'what' names no step: 'goodbye'"],
    "unreachable.yaml": ["7:3: step 'orphan' is unreachable from start 'hello'"],
    "loop_no_ask.yaml": [
        "4:3: loop with no ask: one -> two -> one would repeat forever",
        "4:3: no path from step 'one' ever ends (add end: true somewhere after it)",
        "7:3: no path from step 'two' ever ends (add end: true somewhere after it)",
    ],
    "never_ends.yaml": [
        "4:3: no path from step 'name' ever ends (add end: true somewhere after it)",
        "9:3: no path from step 'again' ever ends (add end: true somewhere after it)",
    ],
    "template_before_save.yaml": ["5:10: template variable {where} is used before any step saves it"],
    "ask_without_validation.yaml": ["4:3: ask step 'name' has no 'expect': every ask validates its answer"],
    "keyword_collision.yaml": ["9:15: choice word 'stop' of 'halt' is the global keyword 'stop' (_globals.yaml:5)"],
    "options.yaml": [
        "7:7: number min 10 is greater than max 1",
        "13:7: invalid pattern: missing ), unterminated subpattern at position 0",
        "18:13: unknown expect kind 'address' (known: choice, yes_no, number, datetime, location, phone, media, text)",
        "22:9: unknown action 'report.email' (known: alerts.subscribe, alerts.unsubscribe, debrief.open, "
        "debrief.record, handoff.callback, report.submit, report.update)",
        "26:3: duplicate key 'done' in steps",
    ],
    "subflow_cycle.yaml": ["5:11: flow 'subflow_cycle' enters itself through step 'again' (subflow cycle)"],
    "timers.yaml": [
        "5:3: timeout of step 'what' must be at least 1m and end before the flow expires",
        "16:13: step 'why' has remind but no timeout",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_broken_flow_is_reported_at_its_line(name):
    issues = [
        i for i in check_paths([str(BROKEN / name), str(GLOBALS)], locales_dir=str(LOCALES)) if i.path.endswith(name)
    ]
    assert [str(i).split(f"{name}:", 1)[1] for i in issues] == EXPECTED[name]


def test_every_broken_file_has_expectations():
    assert sorted(p.name for p in BROKEN.glob("*.yaml")) == sorted(EXPECTED)


def test_shipped_flows_pass_the_check():
    assert [str(i) for i in check_paths([str(ROOT / "flows")], locales_dir=str(LOCALES))] == []


def _po(tmp_path: Path, entries: str) -> Path:
    folder = tmp_path / "locales" / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n' + entries, encoding="utf-8"
    )
    return tmp_path / "locales"


FLOW = """flow: tiny
languages: [en, es]
start: hi
steps:
  hi:
    say: "Hello {human_number}"
    next: bye
  bye:
    say: "Bye"
    next: done
  done:
    say: "Done"
    end: true
"""


def test_untranslated_fuzzy_and_placeholder_mismatch_are_reported_at_the_yaml_line(tmp_path):
    (tmp_path / "tiny.yaml").write_text(FLOW)
    locales = _po(
        tmp_path,
        'msgctxt "tiny.hi.say"\nmsgid "Hello {human_number}"\nmsgstr "Hola {numero}"\n\n'
        '#, fuzzy\nmsgctxt "tiny.bye.say"\nmsgid "Bye"\nmsgstr "Adios"\n',
    )
    lines = [str(i).split("tiny.yaml:", 1)[1] for i in check_paths([str(tmp_path / "tiny.yaml")], str(locales))]
    assert lines == [
        "6:10: placeholders differ in es (messages.po:6): {human_number} vs {numero}",
        "9:10: fuzzy translation in es (messages.po:11): review it and remove the fuzzy flag",
        "12:10: untranslated in es: tiny.done.say (run pybabel extract/update, then translate in "
        f"{locales}/es/LC_MESSAGES/messages.po)",
    ]


def test_needless_ucs2_and_long_texts_are_warnings(tmp_path):
    long = "Agents are here " * 40
    (tmp_path / "tiny.yaml").write_text(
        f'flow: tiny\nstart: hi\nsteps:\n  hi:\n    say: "Don’t go"\n'
        f'    next: done\n  done:\n    say: "{long}"\n    end: true\n'
    )
    issues = check_paths([str(tmp_path / "tiny.yaml")], str(tmp_path))
    assert [(i.line, i.severity) for i in issues] == [(5, "warning"), (8, "warning")]
    assert "'’'->\"'\"" in issues[0].message and "5 SMS segments" in issues[1].message


def test_segments_count_gsm7_and_ucs2():
    assert segments("a" * 160) == (1, "GSM-7")
    assert segments("a" * 161) == (2, "GSM-7")
    assert segments("á" * 70) == (1, "UCS-2")
    assert segments("á" * 71) == (2, "UCS-2")


def test_missing_path_is_an_issue_not_a_crash(tmp_path):
    assert [i.message for i in check_paths([str(tmp_path / "nope.yaml")])] == ["no such file or folder"]


def test_a_translated_choice_word_colliding_with_a_translated_keyword_is_reported(tmp_path):
    (tmp_path / "_globals.yaml").write_text('commands:\n  stop:\n    words: "stop"\n    do: opt_out\n')
    (tmp_path / "menu.yaml").write_text(
        'flow: menu\nlanguages: [en, es]\nstart: m\nsteps:\n  m:\n    ask: "1 on, 2 off"\n'
        '    expect:\n      choice:\n        off: "2 | off"\n    save: m\n    next: d\n  d:\n    end: true\n'
    )
    locales = _po(
        tmp_path,
        'msgctxt "_globals.stop.words"\nmsgid "stop"\nmsgstr "parar | baja"\n\n'
        'msgctxt "menu.m.ask"\nmsgid "1 on, 2 off"\nmsgstr "1 si, 2 no"\n\n'
        'msgctxt "menu.m.choice.off"\nmsgid "2 | off"\nmsgstr "2 | baja"\n',
    )
    issues = [str(i) for i in check_paths([str(tmp_path)], str(locales))]
    assert issues == [f"{tmp_path / 'menu.yaml'}:9:14: es choice word 'baja' of 'off' is the global keyword 'stop'"]
