"""Conversation cases written as YAML (texts in, replies expected), run through the signed webhook.

Each file in tests/flows/cases/ is one conversation (the format is in bot/cli/cases.py,
which `hotline flows test` runs too). `pytest tests/test_conversation_cases.py
--update-cases` rewrites replies that no longer match (comments are lost; read
`git diff` before committing), goflow's -update.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import observers, privacy
from bot.cli.cases import run_case
from bot.conversation import sessions

CASES = sorted((Path(__file__).parent / "flows" / "cases").glob("*.yaml"))


class FixtureHotline:
    """The case runner's view of the test fixtures: the signed-webhook phone, RQ jobs, the fake Twilio."""

    def __init__(self, phone, settings, r, twilio_outbox, release_scheduled, worker):
        self.phone, self.settings, self.r = phone, settings, r
        self.outbox, self.release_scheduled, self.worker = twilio_outbox, release_scheduled, worker

    def text(self, body, from_, **extra):
        return self.phone.text(body, from_=from_, **extra)

    def release(self, seconds):
        self.release_scheduled(seconds)
        self.worker()

    def work(self):
        self.worker()

    def messages(self):
        return self.outbox.messages()

    def session(self, sender):
        return sessions.load(self.r, privacy.contact_id(self.settings.secret, sender))

    def import_roster(self, path):
        return observers.import_csv(self.r, self.settings, path).errors


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conversation_case(path, phone, settings, r, twilio_outbox, release_scheduled, worker, request):
    hotline = FixtureHotline(phone, settings, r, twilio_outbox, release_scheduled, worker)
    result = run_case(path, hotline, update=request.config.getoption("--update-cases"))
    assert result.ok, "\n".join(result.failures)
