"""`hotline demo` and `hotline fake-twilio`: the whole hotline on a laptop.

The demo starts an embedded Redis, the fake Twilio, the web app and an RQ
worker process, imports a demo roster, and lets you text the hotline as a
community member from the terminal, showing the texts observers receive.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import click
import requests
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from .. import create_app, procs, store
from ..config import Settings
from ..fake_twilio import FakeTwilioServer

DEMO_TOKEN = "demo-auth-token"
DEMO_SID = "AC" + "d" * 32
DEMO_REPORTER = "+13235550999"
DEMO_COORDINATOR = "+13235550100"
CONSOLE_LOGIN = "demo"
"""The demo's coordinator login for the console (an admin, so the roster page can be tried too)."""
ROSTER = Path(__file__).resolve().parent.parent / "data" / "demo_observers.csv"
WORKER = Path(__file__).resolve().parent.parent.parent / "worker.py"
OUTBOX_WAIT_S = 2.0
"""How long the demo waits for observers' texts after each message (UX pacing, not sync)."""


class DemoPhone:
    """Texts the local hotline through its signed webhook, as Twilio would."""

    def __init__(self, base_url: str, token: str, twilio_number: str):
        self.base_url, self.twilio_number = base_url, twilio_number
        self.validator = RequestValidator(token)
        self.session = requests.Session()

    def text(self, body: str, from_: str) -> list[str]:
        import xml.etree.ElementTree as ET

        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": DEMO_SID,
            "From": from_,
            "To": self.twilio_number,
            "Body": body,
            "NumMedia": "0",
        }
        url = self.base_url + "/twilio/messages"
        signature = self.validator.compute_signature(url, params)
        response = self.session.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
        response.raise_for_status()
        return [m.findtext("Body") or m.text or "" for m in ET.fromstring(response.text).iter("Message")]


def _demo_settings(data_dir: Path, web_port: int, fake_url: str, redis_url: str) -> tuple[Settings, dict]:
    env = {
        "HOTLINE_ENV": "development",
        "REDIS_URL": redis_url,
        "HOTLINE_DATA_DIR": str(data_dir),
        "TWILIO_ACCOUNT_SID": DEMO_SID,
        "TWILIO_AUTH_TOKEN": DEMO_TOKEN,
        "TWILIO_NUMBER": "+13235550000",
        "TWILIO_API_BASE": fake_url,
        "PUBLIC_URL": f"http://127.0.0.1:{web_port}",
        "HOTLINE_COORDINATORS": DEMO_COORDINATOR,
        "HOTLINE_HUMAN_NUMBER": "+13235550100",
        "HOTLINE_WAVE_TIMEOUT_S": "60",
    }
    for passthrough in ("HOTLINE_FLOWS_DIR", "HOTLINE_LOCALES_DIR"):
        if passthrough in os.environ:
            env[passthrough] = os.environ[passthrough]
    return Settings.from_env(env), env


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the demo keeps its Redis and secret (default: a new temporary folder).",
)
@click.option(
    "--outbox-wait",
    type=float,
    default=OUTBOX_WAIT_S,
    show_default=True,
    help="Seconds to wait for observers' texts after each message.",
)
def demo_command(data_dir: str | None, outbox_wait: float):
    """Run the whole hotline locally and text it from this terminal."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the chat
    data = Path(data_dir or tempfile.mkdtemp(prefix="hotline-demo-"))
    redis_server = store.start_embedded(data, appendonly=False)
    fake = FakeTwilioServer().start()
    web_port = store.free_port()
    settings, env = _demo_settings(data, web_port, fake.url, redis_server.url)
    app = create_app(settings)
    web = make_server("127.0.0.1", web_port, app, threaded=True)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    worker = procs.start_group(
        [sys.executable, str(WORKER)], env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # `kill` of the demo still runs the clean-up below
    try:
        from .. import observers

        result = observers.import_csv(app.extensions["hotline"].r, settings, str(ROSTER))
        names = _roster_names()
        password = _console_login(app.extensions["hotline"].r)
        click.echo(
            f"Hotline demo: web on http://127.0.0.1:{web_port} (web chat at /chat), "
            f"fake Twilio on {fake.url}, Redis on {redis_server.url}."
        )
        click.echo(
            f"Coordinators' console: http://127.0.0.1:{web_port}/dashboard — "
            f"log in as {CONSOLE_LOGIN!r} with password {password!r} (made for this demo only)."
        )
        click.echo(f"{result.imported} demo observers on the roster around Huntington Park / Bell / South Gate.")
        click.echo(
            "Text the hotline as a neighbor (try: 'migra en 90255'). Type '/as NAME text' to reply "
            "as an observer (e.g. '/as Ana YES'), '/quit' to stop.\n"
        )
        _chat_loop(
            DemoPhone(f"http://127.0.0.1:{web_port}", DEMO_TOKEN, settings.twilio_number), fake, names, outbox_wait
        )
    finally:
        procs.stop_group(worker)  # first: a worker whose Redis is gone retries it forever
        web.shutdown()
        fake.stop()
        redis_server.stop()


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _console_login(r) -> str:
    """Create the demo's console account with a fresh random password; return the password."""
    import secrets
    import time

    from .. import coordinators

    password = secrets.token_urlsafe(12)  # printed once: the demo's Redis is thrown away with it
    coordinators.add(r, CONSOLE_LOGIN, password, "admin", time.time())
    return password


def _roster_names() -> dict[str, str]:
    import csv

    with open(ROSTER, newline="") as fh:
        return {row["phone"]: row["name"].split(" ")[0] for row in csv.DictReader(fh)}


def _chat_loop(phone: DemoPhone, fake: FakeTwilioServer, names: dict[str, str], wait_s: float) -> None:
    by_name = {name.lower(): number for number, name in names.items()}
    names = {**names, DEMO_COORDINATOR: "coordinator"}
    seen = 0
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except EOFError:
            break
        if not interactive and line == "":
            break
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        sender = DEMO_REPORTER
        if line.startswith("/as "):
            _, name, *rest = line.split(" ", 2)
            sender = by_name.get(name.lower())
            if not sender or not rest:
                click.echo(f"  (unknown observer {name!r}; try one of: {', '.join(sorted(by_name))})")
                continue
            line = rest[0]
        if not interactive:
            click.echo(f"you> {line}" if sender == DEMO_REPORTER else f"[{names[sender]}]> {line}")
        for body in phone.text(line, sender):
            click.echo(f"hotline> {body}")
        messages = fake.wait_for(seen + 1, timeout_s=wait_s)
        for message in messages[seen:]:
            who = names.get(
                message["to"].removeprefix("whatsapp:"), "reporter" if message["to"] == DEMO_REPORTER else "someone"
            )
            click.echo(f"  📱 to {who}: {message['body']}")
        seen = len(messages)


@click.command("fake-twilio")
@click.option("--port", type=int, default=8399, show_default=True, help="Loopback port to listen on.")
def fake_twilio_command(port: int):
    """Serve a local stand-in for Twilio's REST API that records what is sent."""
    server = FakeTwilioServer(port=port)
    click.echo(f"fake Twilio on {server.url} (GET /_fake/messages lists what was sent)")
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
