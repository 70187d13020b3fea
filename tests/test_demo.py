"""`hotline demo` runs the whole hotline from one command (scripted stdin instead of a person)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

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


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_", "REDIS_URL"))}


def _left_running(data_dir: Path) -> list[str]:
    """Every process still running for this demo: its worker (and RQ's scheduler) by environment, its Redis by cwd."""
    found = []
    marker = f"HOTLINE_DATA_DIR={data_dir}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cwd = os.readlink(proc / "cwd")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state == "Z":  # exited, only not yet reaped by its parent
            continue
        # redis-server rewrites its command line to "redis-server 127.0.0.1:PORT", but runs in its --dir
        if marker in environ.split(b"\0") or cwd.startswith(str(data_dir)):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name}: {command}")
    return found


@pytest.mark.slow
def test_demo_takes_a_report_and_shows_the_observer_texts(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--data-dir", str(tmp_path), "--outbox-wait", "1"],
        input=SCRIPT,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _left_running(tmp_path) == [], "after /quit no worker, scheduler or redis-server of the demo remains"
    out = result.stdout
    assert "ya estamos avisando a los observadores" in out, out
    assert "📱 to Ana:" in out, "the nearest demo observer's dispatch text is shown"
    assert "📱 to Dev" not in out, "the Santa Monica observer is too far"
    assert "[Ana]> SI" in out and "Ref" in out, "Ana's acceptance is answered with the details"
    console = re.search(
        r"Coordinators' console: (http://127\.0\.0\.1:\d+/dashboard) — log in as 'demo' with password '([^']+)'", out
    )
    assert console, "the demo prints the console's URL and a login"


@pytest.mark.slow
def test_a_killed_demo_stops_its_worker_and_redis(tmp_path):
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--data-dir", str(tmp_path), "--outbox-wait", "0.1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
        cwd=ROOT,
    ) as demo:
        try:
            for line in demo.stdout:  # the prompt is printed once everything runs
                if line.startswith("Text the hotline"):
                    break
            running = _left_running(tmp_path)
            assert any("worker.py" in p for p in running) and any("redis-server" in p for p in running), running
            demo.send_signal(signal.SIGTERM)
            assert demo.wait(timeout=60) != 0
        finally:
            if demo.poll() is None:
                demo.kill()
    assert _left_running(tmp_path) == []
