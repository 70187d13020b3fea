"""Conversation cases (YAML: texts in, replies expected) run through the signed webhook, in a sandbox.

One runner for `hotline flows test` (coordinators, no pytest) and for
tests/test_conversation_cases.py. A case file is one conversation:

  - send: "text"            (optional from:, pin: [lat, lon], media: [url])
    replies: ["exact", "prefix*", "a * b"]   every reply, in order (* = any text)
  - wait: 11m               release RQ timers due within that time and run them
    texted: ["prefix*"]     texts the fake Twilio received since the last check
  - session: {name: value}  answers saved so far (subset); `session: null` = no conversation
  - as: "+1323..."          send this one step from another phone (an observer answering YES)
  - texted/to: NUMBER       check texts to that number instead of the reporter's
Case keys: `observers: demo` imports the demo roster first and runs RQ jobs after every text;
`dispatched_after: N` says the first dispatch text reaches an observer after exactly N reporter texts.

The sandbox is the hotline's own parts, never the live ones: a private embedded
Redis, the fake Twilio over HTTP, the real app and webhook (signed with Twilio's
RequestValidator), and a burst RQ worker — so a case can never text anyone.
"""

from __future__ import annotations

import csv
import itertools
import logging
import re
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from rq import SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from twilio.request_validator import RequestValidator

from .. import create_app, observers, privacy, runtime, store
from ..config import Settings
from ..conversation import sessions
from ..conversation.answers import parse_duration
from ..conversation.model import Session
from ..fake_twilio import FakeTwilioServer

DEFAULT_FROM = "+13235550123"
DEMO_ROSTER = Path(__file__).resolve().parent.parent / "data" / "demo_observers.csv"
"""The roster a case with `observers: demo` imports first (RQ jobs then run after every text)."""
PUBLIC_URL = "https://hotline.test"
SANDBOX = {
    "env": "test",
    "twilio_account_sid": "AC" + "1" * 32,
    "twilio_auth_token": "test-auth-token",
    "twilio_number": "+13105550100",
    "public_url": PUBLIC_URL,
    "secret": "test-secret",
    "coordinators": ("+13105550199",),
    "human_number": "+13105550111",
    "sms_gsm7_languages": (),  # cases check the flow's words as written; GSM-7-safe SMS is the channel's concern
}
"""Settings the cases are written against (their replies name the human number); tests/conftest.py uses the same."""


class Harness(Protocol):
    """What a case needs from the hotline it runs on."""

    def text(self, body: str, from_: str, **extra: Any) -> list[str]: ...
    def release(self, seconds: float) -> None: ...
    def work(self) -> None: ...
    def messages(self) -> list[dict]: ...
    def session(self, sender: str) -> Session | None: ...
    def import_roster(self, path: Path) -> list: ...


def matches(expected: str, actual: str) -> bool:
    """Compare one reply with an expectation where * stands for any text."""
    pattern = ".*".join(re.escape(part) for part in expected.split("*"))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def _same(expected: list[str], actual: list[str]) -> bool:
    return len(actual) == len(expected) and all(matches(e, a) for e, a in zip(expected, actual))


def updated(expected: list[str], actual: list[str]) -> list[str]:
    """Keep each expectation that still matches (wildcards and all); take the new reply otherwise."""
    if len(expected) == len(actual):
        return [e if matches(e, a) else a for e, a in zip(expected, actual)]
    return list(actual)


@dataclass
class Result:
    """How one case went: each failure names its step; `changed` is set when `update` rewrote replies."""

    name: str
    failures: list[str] = field(default_factory=list)
    changed: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures


def run_case(path: Path, hotline: Harness, update: bool = False) -> Result:
    """Run one case file; with `update`, rewrite replies that no longer match (goflow's -update)."""
    result = Result(path.stem)
    try:
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        steps = case["steps"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        result.failures.append(f"{path.name}: not a case file ({type(exc).__name__})")
        return result
    sender = case.get("from", DEFAULT_FROM)
    seen: dict[str, int] = {}
    roster: set[str] = set()
    if case.get("observers") == "demo":
        errors = hotline.import_roster(DEMO_ROSTER)
        if errors:
            result.failures.append(f"{path.name}: demo roster: {errors!r}")
        with DEMO_ROSTER.open(encoding="utf-8") as fh:
            roster = {row["phone"] for row in csv.DictReader(fh)}
    reporter_texts, dispatched_after = 0, None

    def compare(step: dict, key: str, actual: list[str], where: str) -> None:
        if update and updated(step.get(key, []), actual) != step.get(key):
            step[key], result.changed = updated(step.get(key, []), actual), True
        elif key in step and not _same(step[key], actual):
            result.failures.append(f"{where}: expected {step[key]!r}, got {actual!r}")

    for index, step in enumerate(steps, 1):
        where = f"{path.name} step {index}"
        sender = step.get("from", sender)
        if "send" in step and "as" in step:  # another phone (an observer answering YES)
            replies = hotline.text(step["send"], step["as"])
            if "replies" in step and not _same(step["replies"], replies):
                result.failures.append(f"{where}: expected {step['replies']!r}, got {replies!r}")
            if roster:
                hotline.work()
        elif "send" in step:
            extra: dict[str, Any] = {}
            if "pin" in step:
                extra.update(Latitude=step["pin"][0], Longitude=step["pin"][1])
                extra.update({k.title(): step[k] for k in ("label", "address") if k in step})
            for n, url in enumerate(step.get("media", [])):
                extra.update({f"MediaUrl{n}": url, f"MediaContentType{n}": "image/jpeg"})
            if step.get("media"):
                extra["NumMedia"] = len(step["media"])
            compare(step, "replies", hotline.text(step["send"], sender, **extra), where)
            if roster:
                reporter_texts += 1
                hotline.work()
                if dispatched_after is None and any(m.get("to") in roster for m in hotline.messages()):
                    dispatched_after = reporter_texts
        if "wait" in step:
            hotline.release(parse_duration(step["wait"]) or 0)
        if "texted" in step:
            to = step.get("to", sender)
            bodies = [m["body"] for m in hotline.messages() if m.get("to") == to]
            done = seen.get(to, 0)
            if update and updated(step["texted"], bodies[done:]) != step["texted"]:
                step["texted"], result.changed = updated(step["texted"], bodies[done:]), True
            elif not _same(step["texted"], bodies[done:]):
                result.failures.append(f"{where}: expected texts {step['texted']!r}, got {bodies[done:]!r}")
            seen[to] = len(bodies)
        if "session" in step:
            result.failures += _check_session(hotline.session(sender), step["session"], where)
    if "dispatched_after" in case and dispatched_after != case["dispatched_after"]:
        result.failures.append(
            f"{path.name}: first dispatch after {dispatched_after} reporter texts, expected {case['dispatched_after']}"
        )
    if result.changed:
        path.write_text(yaml.safe_dump(case, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    return result


def _check_session(session: Session | None, expected: dict | None, where: str) -> list[str]:
    if expected is None:
        return [] if session is None else [f"{where}: conversation should be over"]
    if session is None:
        return [f"{where}: no conversation"]
    return [
        f"{where}: {name} is {session.answers.get(name)!r}, expected {value!r}"
        for name, value in expected.items()
        if session.answers.get(name) != value
    ]


def case_files(paths: list[str]) -> list[Path]:
    """Expand files and folders into the case files, sorted."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        found += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return found


# ---- the sandbox a case runs in ---------------------------------------------------
def replies_of(twiml: str) -> list[str]:
    """Parse TwiML structurally and return each <Message> body."""
    root = ET.fromstring(twiml)
    return [(m.findtext("Body") or m.text or "").strip() for m in root.iter("Message")]


class Sandbox:
    """A hotline on its own Redis and fake Twilio, driven through the signed webhook."""

    def __init__(self, client: Any, rt: Any, twilio: FakeTwilioServer):
        self.client, self.rt, self.twilio = client, rt, twilio
        self.validator = RequestValidator(rt.settings.twilio_auth_token)
        self._sids = itertools.count(1)

    def text(self, body: str, from_: str, **extra: Any) -> list[str]:
        params = {
            "MessageSid": f"SM{uuid.uuid4().hex}",
            "AccountSid": self.rt.settings.twilio_account_sid,
            "From": from_,
            "To": self.rt.settings.twilio_number,
            "Body": body,
            "NumMedia": "0",
        }
        params.update({k: str(v) for k, v in extra.items()})
        signature = self.validator.compute_signature(PUBLIC_URL + "/twilio/messages", params)
        response = self.client.post("/twilio/messages", data=params, headers={"X-Twilio-Signature": signature})
        if response.status_code != 200:
            return [f"(HTTP {response.status_code})"]
        return replies_of(response.get_data(as_text=True))

    def release(self, seconds: float) -> None:
        """Enqueue every scheduled job due within `seconds` (RQ's own registry, no sleeping) and run them."""
        for name in runtime.QUEUE_NAMES:
            queue = self.rt.queue(name)
            scheduled = ScheduledJobRegistry(queue=queue)
            for job_id in scheduled.get_jobs_to_schedule(timestamp=int(time.time() + seconds)):
                job = Job.fetch(job_id, connection=self.rt.r_raw)
                scheduled.remove(job)
                queue._enqueue_job(job)  # RQ's scheduler does the same; pinned rq<4 (pyproject)
        self.work()

    def work(self) -> None:
        SimpleWorker([self.rt.queue(n) for n in runtime.QUEUE_NAMES], connection=self.rt.r_raw).work(
            burst=True, logging_level="WARNING"
        )

    def messages(self) -> list[dict]:
        return list(self.twilio.messages())

    def import_roster(self, path: Path) -> list:
        return list(observers.import_csv(self.rt.r, self.rt.settings, str(path)).errors)

    def session(self, sender: str) -> Session | None:
        return sessions.load(self.rt.r, privacy.contact_id(self.rt.settings.secret, sender))

    def reset(self) -> None:
        """Forget everything between cases: each starts on an empty hotline."""
        self.rt.r.flushdb()
        self.twilio.clear()


@contextmanager
def sandbox(flows_dir: str, locales_dir: str) -> Iterator[Sandbox]:
    """Start a private Redis and fake Twilio, build the app on them, and stop both afterwards."""
    quiet = [logging.getLogger(), logging.getLogger("werkzeug")]  # an INFO line per job or request
    levels = [logger.level for logger in quiet]  # would bury the PASS/FAIL lines
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="hotline-cases-") as tmp:
        redis_server = store.start_embedded(tmp, appendonly=False)
        twilio = FakeTwilioServer().start()
        try:
            settings = Settings(
                redis_url=redis_server.url,
                data_dir=str(Path(tmp) / "var"),
                twilio_api_base=twilio.url,
                flows_dir=flows_dir,
                locales_dir=locales_dir,
                **SANDBOX,
            ).resolved()
            app = create_app(settings)
            yield Sandbox(app.test_client(), app.extensions["hotline"], twilio)
        finally:
            twilio.stop()
            redis_server.stop()
            for logger, level in zip(quiet, levels):
                logger.setLevel(level)
