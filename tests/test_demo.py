"""`hotline demo` runs the whole hotline from one command (scripted stdin instead of a person)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

SCRIPT = (
    "\n".join(
        [
            "hay migra deteniendo a alguien",
            "33.9769, -118.2161",
            "4 agentes 2 carros",
            "1 6",
            "/as Ana SI",
            "/quit",
        ]
    )
    + "\n"
)


@pytest.mark.slow
def test_demo_takes_a_report_and_shows_the_observer_texts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_", "REDIS_URL"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--data-dir", str(tmp_path), "--outbox-wait", "1"],
        input=SCRIPT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "ya estamos avisando a los observadores" in out, out
    assert "📱 to Ana:" in out, "the nearest demo observer's dispatch text is shown"
    assert "📱 to Dev" not in out, "the Santa Monica observer is too far"
    assert "[Ana]> SI" in out and "Ref" in out, "Ana's acceptance is answered with the details"
    console = re.search(
        r"Coordinators' console: (http://127\.0\.0\.1:\d+/dashboard) — log in as 'demo' with password '([^']+)'", out
    )
    assert console, "the demo prints the console's URL and a login"
