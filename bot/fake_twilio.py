"""A local stand-in for Twilio's REST API, for the demo, the tests and the benchmarks.

It answers `POST /2010-04-01/Accounts/{sid}/Messages.json` the way Twilio does
(201 with a `sid`), records every message, and can be told to fail the next N
calls (opsdroid's `ExternalAPIMockServer.add_response` idea) or to add latency.
The real `twilio` client talks to it over HTTP; nothing is patched.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, abort, jsonify, request
from werkzeug.serving import make_server


class Recorder:
    """What the fake received, and the failures it was told to answer with."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[dict] = []
        self.script: list[dict] = []
        self.latency_s = 0.0
        self.arrived = threading.Condition(self.lock)

    def next_failure(self) -> dict | None:
        with self.lock:
            return self.script.pop(0) if self.script else None

    def record(self, message: dict) -> None:
        with self.lock:
            self.messages.append(message)
            self.arrived.notify_all()


def create_fake_app(recorder: Recorder | None = None) -> Flask:
    """Build the fake Twilio Flask app around a recorder."""
    app = Flask("fake_twilio")
    rec = recorder or Recorder()
    app.extensions["recorder"] = rec

    @app.post("/2010-04-01/Accounts/<account_sid>/Messages.json")
    def create_message(account_sid: str):
        if not request.authorization or request.authorization.username != account_sid:
            return jsonify(code=20003, message="Authenticate", status=401), 401
        if rec.latency_s:
            time.sleep(rec.latency_s)  # simulated network latency, the point of this knob
        failure = rec.next_failure()
        if failure:
            status = int(failure.get("status", 500))
            return jsonify(
                code=failure.get("code"),
                message=failure.get("message", "scripted failure"),
                status=status,
                more_info="",
            ), status
        form = request.form
        to, body = form.get("To"), form.get("Body")
        if not to or (not form.get("From") and not form.get("MessagingServiceSid")):
            return jsonify(code=21604, message="A 'To' and 'From' are required", status=400), 400
        if body is None and not form.get("MediaUrl"):
            return jsonify(code=21602, message="Message body is required", status=400), 400
        now = datetime.now(UTC)
        message = {
            "sid": "SM" + uuid.uuid4().hex,
            "account_sid": account_sid,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": body,
            "status": "queued",
            "status_callback": form.get("StatusCallback"),
            "date_created": now.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "received_at": time.time(),
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/x.json",
        }
        rec.record(message)
        return jsonify(message), 201

    @app.get("/2010-04-01/Accounts/<account_sid>/Messages.json")
    def read_messages(account_sid: str):
        """List sent messages newest first, filtered by `To` like Twilio (used to reconcile a retry)."""
        if not request.authorization or request.authorization.username != account_sid:
            return jsonify(code=20003, message="Authenticate", status=401), 401
        to, size = request.args.get("To"), int(request.args.get("PageSize", 50))
        with rec.lock:
            found = [m for m in reversed(rec.messages) if not to or m["to"] == to][:size]
        return jsonify(
            messages=found,
            page=0,
            page_size=size,
            start=0,
            end=len(found),
            uri=request.full_path,
            first_page_uri=request.full_path,
            next_page_uri=None,
            previous_page_uri=None,
        )

    @app.get("/_fake/messages")
    def list_messages():
        with rec.lock:
            return jsonify(list(rec.messages))

    @app.delete("/_fake/messages")
    def clear_messages():
        with rec.lock:
            rec.messages.clear()
            rec.script.clear()
            rec.latency_s = 0.0
        return "", 204

    @app.post("/_fake/script")
    def push_failures():
        """Queue failures for the next calls: JSON list of {status, code, message}."""
        items = request.get_json(silent=True)
        if not isinstance(items, list):
            abort(400)
        with rec.lock:
            rec.script.extend(items)
        return "", 204

    @app.post("/_fake/latency")
    def set_latency():
        payload = request.get_json(silent=True) or {}
        rec.latency_s = float(payload.get("ms", 0)) / 1000
        return "", 204

    return app


class FakeTwilioServer:
    """The fake served on a loopback port from a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.recorder = Recorder()
        self.app = create_fake_app(self.recorder)
        self.server = make_server(host, port, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeTwilioServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def messages(self) -> list[dict]:
        with self.recorder.lock:
            return list(self.recorder.messages)

    def clear(self) -> None:
        with self.recorder.lock:
            self.recorder.messages.clear()
            self.recorder.script.clear()
            self.recorder.latency_s = 0.0

    def fail_next(self, *failures: dict) -> None:
        with self.recorder.lock:
            self.recorder.script.extend(failures)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict]:
        """Block until at least `count` messages arrived (a condition, not a sleep)."""
        deadline = time.monotonic() + timeout_s
        with self.recorder.arrived:
            while len(self.recorder.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.recorder.arrived.wait(left)
            return list(self.recorder.messages)
