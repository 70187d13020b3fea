"""Shared fixtures: a real Redis, the fake Twilio over HTTP, a signed-webhook phone, a burst worker.

Names follow flaskr (`app`, `client`, `runner`); Redis hygiene follows rq's
RQTestCase (refuse a non-empty database, flush before and after).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import redis as redis_lib
from rq import SimpleWorker
from twilio.request_validator import RequestValidator

from bot import create_app, runtime, store, twilio_retention
from bot.config import Settings
from bot.fake_twilio import FakeTwilioServer

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_URL = "https://hotline.test"
TOKEN = "test-auth-token"
HEALTH_TOKEN = "test-health-token"


def pytest_addoption(parser):
    parser.addoption(
        "--update-cases",
        action="store_true",
        default=False,
        help="rewrite replies in tests/flows/cases/*.yaml that no longer match (read the diff)",
    )


def _empty_database(url: str) -> str:
    """Pick an empty database on a given Redis, refusing to touch a used one (rq's rule)."""
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    for db in range(15, 0, -1):
        candidate = f"{base}/{db}"
        if redis_lib.Redis.from_url(candidate).dbsize() == 0:
            return candidate
    raise RuntimeError(f"no empty database on {base}; refusing to run tests against data")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis: REDIS_URL if set (an empty db of it), else the project's own embedded server."""
    if os.environ.get("REDIS_URL"):
        yield _empty_database(os.environ["REDIS_URL"])
        return
    server = store.start_embedded(tmp_path_factory.mktemp("redis"), appendonly=False)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def fake_twilio():
    """The fake Twilio REST API on a loopback port, for the whole session."""
    server = FakeTwilioServer().start()
    yield server
    server.stop()


@pytest.fixture
def twilio_outbox(fake_twilio):
    """The fake Twilio, emptied before the test."""
    fake_twilio.clear()
    return fake_twilio


@pytest.fixture
def settings(tmp_path, fake_twilio, redis_server) -> Settings:
    """Settings for one test: real Redis, the fake Twilio, the repository's flows and locales."""
    return Settings(
        env="test",
        redis_url=redis_server,
        data_dir=str(tmp_path / "var"),
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token=TOKEN,
        twilio_number="+13105550100",
        twilio_api_base=fake_twilio.url,
        public_url=PUBLIC_URL,
        secret="test-secret",
        coordinators=("+13105550199",),
        human_number="+13105550111",
        flows_dir=str(ROOT / "flows"),
        locales_dir=str(ROOT / "locales"),
        health_token=HEALTH_TOKEN,
        sms_gsm7_languages=(),  # texts as written; tests of GSM-7-safe SMS turn it on
    ).resolved()


@pytest.fixture
def r(redis_server):
    """A str-answering client on the test Redis, flushed before and after (we like our hygiene)."""
    client = store.connect(redis_server)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def app(settings, r, twilio_outbox):
    """The hotline app on the test Redis and the fake Twilio."""
    application = create_app(settings)
    application.config["TESTING"] = True
    yield application


@pytest.fixture
def rt(app):
    """The runtime the app configured (Redis clients, queues, twilio client)."""
    return app.extensions["hotline"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Phone:
    """Text the hotline through the signed webhook like Twilio would (errbot's testbot)."""

    def __init__(self, client, settings: Settings, fake=None):
        self.client, self.settings, self.fake = client, settings, fake
        self.validator = RequestValidator(settings.twilio_auth_token)
        self._sids = itertools.count(1)

    def form(self, body: str, from_: str, **extra) -> dict:
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": self.settings.twilio_account_sid,
            "From": from_,
            "To": self.settings.twilio_number,
            "Body": body,
            "NumMedia": "0",
        }
        params.update({k: str(v) for k, v in extra.items()})
        return params

    def post(self, params: dict, path: str = "/twilio/messages", sign: bool = True, signature: str | None = None):
        if self.fake is not None and path == "/twilio/messages" and str(params.get("From", "")).startswith("whatsapp:"):
            self.fake.whatsapp_inbound(params["From"])  # Twilio saw it too: its 24-hour window opens
        headers = {}
        if sign:
            headers["X-Twilio-Signature"] = signature or self.validator.compute_signature(PUBLIC_URL + path, params)
        return self.client.post(path, data=params, headers=headers)

    def send(self, body: str, from_: str = "+13235550123", **extra):
        """Post one signed inbound message and return the response."""
        return self.post(self.form(body, from_, **extra))

    def text(self, body: str, from_: str = "+13235550123", **extra) -> list[str]:
        """Post one signed inbound message and return the reply bodies from the TwiML."""
        response = self.send(body, from_, **extra)
        assert response.status_code == 200, response.get_data(as_text=True)
        return replies_of(response.get_data(as_text=True))


def replies_of(twiml: str) -> list[str]:
    """Parse TwiML structurally and return each <Message> body."""
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return [(m.findtext("Body") or m.text or "").strip() for m in root.iter("Message")]


@pytest.fixture
def phone(client, settings, fake_twilio):
    return Phone(client, settings, fake_twilio)


@pytest.fixture
def worker(rt):
    """Run every queued RQ job in-process until the queues are empty (rq's testing recipe)."""

    def run() -> None:
        SimpleWorker([rt.queue(n) for n in runtime.QUEUE_NAMES], connection=rt.r_raw).work(burst=True)

    return run


@pytest.fixture
def release_scheduled(rt):
    """Enqueue every scheduled job that would be due `seconds` from now (no sleeping).

    Uses RQ's own ScheduledJobRegistry.get_jobs_to_schedule with a future timestamp, and hands
    over the deletions at Twilio due by then as the worker's beat does. Returns how many jobs
    were released.
    """
    import time as _time

    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    def release(seconds: float) -> int:
        released = 0
        for name in runtime.QUEUE_NAMES:
            queue = rt.queue(name)
            registry = ScheduledJobRegistry(queue=queue)
            for job_id in registry.get_jobs_to_schedule(timestamp=int(_time.time() + seconds)):
                job = Job.fetch(job_id, connection=rt.r_raw)
                registry.remove(job)
                queue._enqueue_job(job)
                released += 1
        return released + twilio_retention.hand_over(rt, _time.time() + seconds)  # deletions wait outside RQ

    return release


@pytest.fixture
def blip_redis(tmp_path):
    """A redis-server of this test only, `stop()` and `start()` (same port and data)."""

    class Blip:
        def __init__(self):
            self.folder = tmp_path / "blip"
            self.server = store.start_embedded(self.folder, appendonly=True)
            self.url = self.server.url

        def stop(self):
            self.server.stop()  # SIGTERM: Redis flushes its append-only file and exits

        def start(self):
            self.server = store.start_embedded(self.folder, port=self.server.port, appendonly=True)

    blip = Blip()
    yield blip
    blip.server.stop()


@pytest.fixture
def wait_until():
    """Poll a condition with a deadline (the fixture-side helper the tests wait with; never a bare sleep)."""

    def wait(condition, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return bool(condition())

    return wait


COORDINATOR_PASSWORD = "correct horse battery staple"


class Console:
    """A logged-in coordinator's browser: the Flask test client with the session cookie and CSRF token."""

    def __init__(self, client, csrf: str, name: str):
        self.client, self.csrf, self.name = client, csrf, name

    def action(self, ref: str, action: str, **fields):
        """POST one incident action as the console's JavaScript does (JSON + X-CSRFToken)."""
        return self.client.post(
            f"/dashboard/api/incidents/{ref}/actions",
            json={"action": action, **fields},
            headers={"X-CSRFToken": self.csrf},
        )

    def post(self, path: str, **json):
        return self.client.post(path, json=json, headers={"X-CSRFToken": self.csrf})

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)


def csrf_of(html: str) -> str:
    """The CSRF token a console page carries (<meta name="csrf-token"> or the form's hidden field)."""
    import re

    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(app, name: str, password: str = COORDINATOR_PASSWORD):
    """A fresh test client logged in through the real login form; returns (client, response)."""
    client = app.test_client()
    token = csrf_of(client.get("/dashboard/login").get_data(as_text=True))
    response = client.post("/dashboard/login", data={"username": name, "password": password, "csrf_token": token})
    return client, response


@pytest.fixture
def coordinator(app, rt):
    """Make a coordinator account and return a function logging one in: console(name="maria", role=...)."""
    import time as _time

    from bot import coordinators

    def make(name: str = "maria", role: str = "dispatcher") -> Console:
        coordinators.add(rt.r, name, COORDINATOR_PASSWORD, role, _time.time())
        client, response = log_in(app, name)
        assert response.status_code == 302, response.get_data(as_text=True)
        page = client.get("/dashboard").get_data(as_text=True)
        return Console(client, csrf_of(page), name)

    return make


class LossyLink:
    """A TCP relay in front of the test Redis that can lose one answer after Redis carried the command out.

    This is what a Redis SIGKILLed between writing (fsynced) and answering does to a
    client: the command took effect, the connection drops, and Redis stays away.
    `lose_answer_to(marker)` arms it for the next command whose bytes hold `marker`:
    that command reaches Redis and runs, its answer is thrown away, the client's
    connection is closed and the link stays down (every new connection is closed at
    once) until `up()`.
    """

    def __init__(self, port: int):
        self.upstream = port
        self.armed: bytes | None = None
        self.down = False
        self.lost = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_answer_to(self, marker: bytes) -> None:
        self.armed = marker

    def up(self) -> None:
        self.down = False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed at the end of the test
                return
            if self.down:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._answers, args=(server, client), daemon=True).start()
            threading.Thread(target=self._requests, args=(client, server), daemon=True).start()

    def _answers(self, server, client) -> None:
        try:
            while data := server.recv(1 << 20):
                client.sendall(data)  # fails once the client's side was cut: the answer is lost
        except OSError:
            pass
        finally:
            server.close()
            client.close()

    def _requests(self, client, server) -> None:
        try:
            while data := client.recv(1 << 20):
                if self.armed and self.armed in data:
                    self.armed, self.down = None, True
                    self.lost += 1
                    client.close()  # the client hears nothing more; Redis still gets, runs and answers it
                server.sendall(data)
                if self.down:
                    break
        except OSError:
            pass
        finally:
            client.close()
            with contextlib.suppress(OSError):  # Redis reads to the end, then lets its side go
                server.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def lossy(blip_redis):
    link = LossyLink(blip_redis.server.port)
    yield link
    link.close()
