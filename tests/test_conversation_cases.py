"""Conversation cases written as YAML (texts in, replies expected), run through the signed webhook.

Each file in tests/flows/cases/ is one conversation. Steps:
  - send: "text"            (optional from:, pin: [lat, lon] with label:/address:, media: [url])
    replies: ["exact", "prefix*", "a * b"]   every reply, in order (* = any text)
  - wait: 11m               release RQ timers due within that time and run them
    texted: ["prefix*"]     texts the fake Twilio received since the last check
  - session: {name: value}  answers saved so far (subset); `session: null` = no conversation
  - as: "+1323..."          send this one step from another phone (an observer answering YES)
  - texted/to: NUMBER       check texts to that number instead of the reporter's
Case keys:
  observers: demo           import the demo roster first, and run RQ jobs after every text
  dispatched_after: N       the first dispatch text reaches an observer after exactly N reporter texts

`pytest tests/test_conversation_cases.py --update-cases` rewrites replies that no
longer match (comments are lost; read `git diff` before committing), goflow's -update.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml

from bot import observers, privacy
from bot.conversation import sessions
from bot.conversation.loader import parse_duration

CASES = sorted((Path(__file__).parent / "flows" / "cases").glob("*.yaml"))
DEFAULT_FROM = "+13235550123"
DEMO_ROSTER = Path(__file__).resolve().parent.parent / "bot" / "data" / "demo_observers.csv"


def matches(expected: str, actual: str) -> bool:
    """Compare one reply with an expectation where * stands for any text."""
    pattern = ".*".join(re.escape(part) for part in expected.split("*"))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def assert_replies(expected: list[str], actual: list[str], where: str) -> None:
    assert len(actual) == len(expected) and all(matches(e, a) for e, a in zip(expected, actual)), (
        f"{where}: expected {expected!r}, got {actual!r}"
    )


def updated(expected: list[str], actual: list[str]) -> list[str]:
    """Keep each expectation that still matches (wildcards and all); take the new reply otherwise."""
    if len(expected) == len(actual):
        return [e if matches(e, a) else a for e, a in zip(expected, actual)]
    return list(actual)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conversation_case(path, phone, settings, r, twilio_outbox, release_scheduled, worker, request):
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    update = request.config.getoption("--update-cases")
    changed = False
    sender = case.get("from", DEFAULT_FROM)
    seen: dict[str, int] = {}
    roster: set[str] = set()
    if case.get("observers") == "demo":
        result = observers.import_csv(r, settings, DEMO_ROSTER)
        assert not result.errors, result.errors
        with DEMO_ROSTER.open(encoding="utf-8") as fh:
            roster = {row["phone"] for row in csv.DictReader(fh)}
    reporter_texts, dispatched_after = 0, None
    for index, step in enumerate(case["steps"], 1):
        where = f"{path.name} step {index}"
        sender = step.get("from", sender)
        if "send" in step and "as" in step:
            replies = phone.text(step["send"], from_=step["as"])
            if "replies" in step:
                assert_replies(step["replies"], replies, where)
            if roster:
                worker()
        elif "send" in step:
            extra = {}
            if "pin" in step:
                extra.update(Latitude=step["pin"][0], Longitude=step["pin"][1])
                extra.update({k.title(): step[k] for k in ("label", "address") if k in step})
            for n, url in enumerate(step.get("media", [])):
                extra.update({f"MediaUrl{n}": url, f"MediaContentType{n}": "image/jpeg"})
            if step.get("media"):
                extra["NumMedia"] = len(step["media"])
            replies = phone.text(step["send"], from_=sender, **extra)
            if update and updated(step.get("replies", []), replies) != step.get("replies"):
                step["replies"], changed = updated(step.get("replies", []), replies), True
            elif "replies" in step:
                assert_replies(step["replies"], replies, where)
            if roster:
                reporter_texts += 1
                worker()
                if dispatched_after is None and any(m.get("to") in roster for m in twilio_outbox.messages()):
                    dispatched_after = reporter_texts
        if "wait" in step:
            release_scheduled(parse_duration(step["wait"]))
            worker()
        if "texted" in step:
            to = step.get("to", sender)
            bodies = [m["body"] for m in twilio_outbox.messages() if m.get("to") == to]
            done = seen.get(to, 0)
            if update and updated(step["texted"], bodies[done:]) != step["texted"]:
                step["texted"], changed = updated(step["texted"], bodies[done:]), True
            else:
                assert_replies(step["texted"], bodies[done:], where)
            seen[to] = len(bodies)
        if "session" in step:
            session = sessions.load(r, privacy.contact_id(settings.secret, sender))
            if step["session"] is None:
                assert session is None, f"{where}: conversation should be over"
            else:
                assert session is not None, f"{where}: no conversation"
                for name, value in step["session"].items():
                    assert session.answers.get(name) == value, (
                        f"{where}: {name} is {session.answers.get(name)!r}, expected {value!r}"
                    )
    if "dispatched_after" in case:
        assert dispatched_after == case["dispatched_after"], (
            f"{path.name}: first dispatch after {dispatched_after} reporter texts, expected {case['dispatched_after']}"
        )
    if changed:
        path.write_text(yaml.safe_dump(case, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
