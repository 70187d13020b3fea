"""A local stand-in for Twilio's REST API, for the demo, the tests and the benchmarks.

It answers the Messages resource the way Twilio does, strictly enough that tests
see what production will (https://www.twilio.com/docs/messaging/api/message-resource):

- `POST .../Messages.json`: 201 with a `sid`; `status` is `accepted` through a
  Messaging Service and `queued` from a number; `num_segments` and `encoding`
  counted as Twilio bills (channels/sms.py); `ValidityPeriod` checked (1..36000,
  else 90007), bodies over 1600 characters refused (21617), `ContentSid` accepted
  instead of a body.
- errors in Twilio's JSON shape `{code, message, more_info, status}`
  (https://www.twilio.com/docs/usage/twilios-response), or RFC 9457 problem details
  (`{type, title, status, code, detail}`, what twilio-python raises as
  TwilioServiceException) when a scripted failure asks for it.
- HTTP Basic auth checked against the account SID *and* the auth token it was
  told to accept (`set_auth_token`): a rotated token answers 401/20003.
- `GET .../Messages.json` (list by To), `GET .../Accounts/{sid}.json` (the probe),
  `DELETE .../Messages/{sid}.json` and `DELETE .../Messages/{sid}/Media/{sid}.json`,
  `GET .../Messages/{sid}/Media.json`; inbound messages with media are seeded by tests.
- the Calls resource the voice line uses (https://www.twilio.com/docs/voice/api/call-resource):
  `GET .../Calls/{sid}.json`, `GET .../Calls.json` (filtered by `ParentCallSid`, `To`, `Status`),
  `POST .../Calls/{sid}.json` with `Status=completed|canceled` (hang up), and
  `DELETE .../Calls/{sid}.json` (204; 20009 while the call is not over, 20404 if unknown).
  Tests seed a caller's call with `add_call` and the legs a `<Dial>` rang with `dial`, and
  move them on with `set_call_status`, as Twilio's own call progress would.
- told to fail the next calls with any status and code (opsdroid's
  `ExternalAPIMockServer.add_response` idea), per method if asked, or to add latency.
- an outage (`start_outage`, `POST /_fake/outage`): every API call answers one
  status and code (a 429/20429 storm, a 503) until it is ended or its seconds run out.
- late accepting (`accept_late`, `POST /_fake/late`): the next creates are answered
  only after a delay longer than the client's timeout, so the client sees a timeout
  for a message Twilio did accept; the message is listed at once, or (`created_late`)
  only when the answer leaves — Twilio accepting it after the client gave up.

The real `twilio` client talks to it over HTTP; nothing is patched.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, abort, jsonify, request
from werkzeug.serving import make_server

from .channels.sms import segments

MAX_BODY = 1600
"""Twilio refuses a longer body with 21617."""

MAX_VALIDITY_S = 36000
"""Twilio's ValidityPeriod ceiling (10 hours); outside 1..36000 is error 90007."""


class Recorder:
    """What the fake received, and the failures it was told to answer with."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[dict] = []
        self.script: list[dict] = []
        self.latency_s = 0.0
        self.auth_token: str | None = None  # None: any password (the demo); else only this one
        self.account_status = "active"
        self.inbound: dict[str, dict] = {}  # sid -> message Twilio received (with its media)
        self.deleted: list[str] = []  # message, media and call sids deleted, in order
        self.whatsapp_last_inbound: dict[str, float] = {}  # "whatsapp:+1..." -> when they last wrote
        self.templates: dict[str, int] = {}  # ContentSid -> number of placeholders (approved templates)
        self.callbacks: list[dict] = []  # status callbacks Twilio would post, for the test to deliver
        self.calls: dict[str, dict] = {}  # sid -> Call resource (callers' calls and the legs they dialed)
        self.arrived = threading.Condition(self.lock)
        self.outage: dict | None = None  # {status, code, until (epoch s or None: until ended)}
        self.late: dict = {"count": 0, "delay_s": 0.0, "created_late": False}  # the next `count` creates
        self.outage_answers = 0  # calls answered by the outage (a storm's hammering, for benches)
        self.late_gate = threading.Event()  # gated late answers leave when it is set

    def in_outage(self) -> dict | None:
        """The outage answering right now, if any (one that ran out ends itself)."""
        with self.lock:
            outage = self.outage
            if outage and outage.get("until") is not None and time.time() >= outage["until"]:
                self.outage = outage = None
            if outage:
                self.outage_answers += 1
            return outage

    def take_late(self) -> tuple[float, bool]:
        """Seconds to hold this create's answer (0: answer at once), and whether it is created only then."""
        with self.lock:
            if self.late["count"] <= 0:
                return 0.0, False
            self.late["count"] -= 1
            return float(self.late["delay_s"]), bool(self.late.get("created_late"))

    def next_failure(self, method: str = "POST") -> dict | None:
        """The next scripted failure that applies to this method (items may name one with `method`)."""
        with self.lock:
            for index, item in enumerate(self.script):
                if item.get("method", "POST").upper() == method:
                    return self.script.pop(index)
            return None

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.script.clear()
            self.inbound.clear()
            self.deleted.clear()
            self.whatsapp_last_inbound.clear()
            self.templates.clear()
            self.callbacks.clear()
            self.calls.clear()
            self.latency_s = 0.0
            self.auth_token = None
            self.account_status = "active"
            self.outage = None
            self.late = {"count": 0, "delay_s": 0.0, "created_late": False}
            self.outage_answers = 0
            self.late_gate.set()  # nothing stays held across tests

    def record(self, message: dict) -> None:
        with self.lock:
            self.messages.append(message)
            self.arrived.notify_all()


def create_fake_app(recorder: Recorder | None = None) -> Flask:
    """Build the fake Twilio Flask app around a recorder."""
    app = Flask("fake_twilio")
    rec = recorder or Recorder()
    app.extensions["recorder"] = rec

    def error(status: int, code: int, message: str, problem: bool = False):
        """Twilio's error JSON (or RFC 9457 problem details when asked), with its HTTP status."""
        if problem:
            body = {
                "type": f"https://www.twilio.com/docs/api/errors/{code}",
                "title": message,
                "status": status,
                "code": code,
                "detail": message,
            }
            return jsonify(body), status, {"Content-Type": "application/problem+json"}
        more = f"https://www.twilio.com/docs/errors/{code}"
        return jsonify(code=code, message=message, more_info=more, status=status), status

    def refused(account_sid: str):
        """401/20003 unless Basic auth names this account with the token the fake accepts."""
        auth = request.authorization
        if not auth or auth.username != account_sid:
            return error(401, 20003, "Authenticate")
        if rec.auth_token is not None and auth.password != rec.auth_token:
            return error(401, 20003, "Authenticate")
        return None

    def scripted(method: str):
        outage = rec.in_outage()
        if outage:
            return error(int(outage["status"]), int(outage["code"]), outage.get("message", "outage"))
        failure = rec.next_failure(method)
        if not failure:
            return None
        return error(
            int(failure.get("status", 500)),
            int(failure.get("code") or 20500),
            failure.get("message", "scripted failure"),
            bool(failure.get("problem")),
        )

    @app.post("/2010-04-01/Accounts/<account_sid>/Messages.json")
    def create_message(account_sid: str):
        if rec.latency_s:
            time.sleep(rec.latency_s)  # simulated network latency, the point of this knob
        denied = refused(account_sid) or scripted("POST")
        if denied:
            return denied
        form = request.form
        to, body, content_sid = form.get("To"), form.get("Body"), form.get("ContentSid")
        if not to:
            return error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return error(400, 21603, "A 'From' phone number is required.")
        if body is None and not form.get("MediaUrl") and not content_sid:
            return error(400, 21602, "Message body is required.")
        if body is not None and len(body) > MAX_BODY:
            return error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        validity = form.get("ValidityPeriod")
        if validity is not None and (not validity.isdigit() or not 1 <= int(validity) <= MAX_VALIDITY_S):
            return error(400, 90007, "Invalid validity period value")
        count, encoding = segments(body or "")
        now = datetime.now(UTC)
        sid = "SM" + uuid.uuid4().hex
        message = {
            "sid": sid,
            "account_sid": account_sid,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": body,
            "content_sid": content_sid,
            "content_variables": form.get("ContentVariables"),
            "validity_period": int(validity) if validity else None,
            "smart_encoded": form.get("SmartEncoded"),
            # A Messaging Service first answers `accepted` (it picks the sender later).
            "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "status_callback": form.get("StatusCallback"),
            "date_created": now.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "received_at": time.time(),
            "num_segments": str(count),
            "encoding": encoding,
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }
        failure = _whatsapp_failure(rec, to, body, content_sid, form.get("ContentVariables"))
        late, created_late = rec.take_late() if not failure else (0.0, False)
        if not created_late:
            rec.record(message)
        if failure:  # accepted now, failed a moment later: Twilio reports it only by status callback
            with rec.lock:
                message.update(status="failed", error_code=failure[0], error_message=failure[1])
                rec.callbacks.append(
                    {
                        "MessageSid": sid,
                        "MessageStatus": "failed",
                        "ErrorCode": str(failure[0]),
                        "AccountSid": account_sid,
                        "To": to,
                        "From": form.get("From") or "",
                    }
                )
            return jsonify(
                {
                    **message,
                    "status": "accepted" if form.get("MessagingServiceSid") else "queued",
                    "error_code": None,
                    "error_message": None,
                }
            ), 201
        if late:
            # The answer leaves after the client gave up: after `delay_s` (simulated, as latency_s
            # is) or, for tests, when `release_late` opens the gate (a condition, no timing).
            rec.late_gate.wait(late) if rec.late.get("gated") else time.sleep(late)
        if created_late:
            message["date_created"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            rec.record(message)
        return jsonify(message), 201

    @app.get("/2010-04-01/Accounts/<account_sid>.json")
    def fetch_account(account_sid: str):
        """The Account resource: what a sending pause's probe asks for."""
        denied = refused(account_sid) or scripted("GET")
        if denied:
            return denied
        return jsonify(sid=account_sid, status=rec.account_status, friendly_name="fake", type="Full")

    @app.delete("/2010-04-01/Accounts/<account_sid>/Messages/<sid>.json")
    def delete_message(account_sid: str, sid: str):
        """Delete a message and its media, as Twilio does since 2020 (204; 404/20404 if unknown)."""
        denied = refused(account_sid) or scripted("DELETE")
        if denied:
            return denied
        with rec.lock:
            before = len(rec.messages)
            rec.messages[:] = [m for m in rec.messages if m["sid"] != sid]
            known = rec.inbound.pop(sid, None)
            if known is None and len(rec.messages) == before:
                return error(404, 20404, f"The requested resource {request.path} was not found")
            rec.deleted.extend([*(m["sid"] for m in (known or {}).get("media", [])), sid])
        return "", 204

    @app.get("/2010-04-01/Accounts/<account_sid>/Messages/<sid>/Media.json")
    def list_media(account_sid: str, sid: str):
        denied = refused(account_sid) or scripted("GET")
        if denied:
            return denied
        with rec.lock:
            media = [
                {k: v for k, v in m.items() if k != "_content"} for m in (rec.inbound.get(sid) or {}).get("media", [])
            ]
        return list_page("media_list", media, 50)

    @app.get("/2010-04-01/Accounts/<account_sid>/Messages/<sid>/Media/<media_sid>")
    def fetch_media_content(account_sid: str, sid: str, media_sid: str):
        """A photo's bytes (Twilio serves them at the media URI without `.json`), behind the same auth."""
        denied = refused(account_sid)
        if denied:
            return denied
        with rec.lock:
            for item in (rec.inbound.get(sid) or {}).get("media", []):
                if item["sid"] == media_sid:
                    return item["_content"], 200, {"Content-Type": item["content_type"]}
        return error(404, 20404, "The requested resource was not found")

    @app.delete("/2010-04-01/Accounts/<account_sid>/Messages/<sid>/Media/<media_sid>.json")
    def delete_media(account_sid: str, sid: str, media_sid: str):
        denied = refused(account_sid) or scripted("DELETE")
        if denied:
            return denied
        with rec.lock:
            media = (rec.inbound.get(sid) or {}).get("media", [])
            if not any(m["sid"] == media_sid for m in media):
                return error(404, 20404, "The requested resource was not found")
            media[:] = [m for m in media if m["sid"] != media_sid]
            rec.deleted.append(media_sid)
        return "", 204

    @app.get("/2010-04-01/Accounts/<account_sid>/Messages.json")
    def read_messages(account_sid: str):
        """List sent messages newest first, filtered by `To` and `From` like Twilio (used to reconcile a retry)."""
        denied = refused(account_sid) or scripted("GET")
        if denied:
            return denied
        to, sender, size = request.args.get("To"), request.args.get("From"), int(request.args.get("PageSize", 50))
        with rec.lock:
            found = [
                m for m in reversed(rec.messages) if (not to or m["to"] == to) and (not sender or m["from"] == sender)
            ][:size]
        return list_page("messages", found, size)

    def list_page(name: str, found: list[dict], size: int):
        """One page of a list resource, as Twilio's 2010-04-01 API pages them (the only page here)."""
        return jsonify(
            **{name: found},
            page=0,
            page_size=size,
            start=0,
            end=len(found),
            uri=request.full_path,
            first_page_uri=request.full_path,
            next_page_uri=None,
            previous_page_uri=None,
        )

    @app.get("/2010-04-01/Accounts/<account_sid>/Calls/<sid>.json")
    def fetch_call(account_sid: str, sid: str):
        denied = refused(account_sid) or scripted("GET")
        if denied:
            return denied
        with rec.lock:
            call = rec.calls.get(sid)
            if call is None or call["account_sid"] != account_sid:
                return error(404, 20404, f"The requested resource {request.path} was not found")
            return jsonify(call)

    @app.get("/2010-04-01/Accounts/<account_sid>/Calls.json")
    def read_calls(account_sid: str):
        denied = refused(account_sid) or scripted("GET")
        if denied:
            return denied
        size = int(request.args.get("PageSize", 50))
        wanted = {
            k: request.args.get(a)
            for k, a in (("parent_call_sid", "ParentCallSid"), ("to", "To"), ("status", "Status"))
        }
        with rec.lock:
            found = [
                c
                for c in reversed(list(rec.calls.values()))
                if c["account_sid"] == account_sid and all(v is None or c[k] == v for k, v in wanted.items())
            ][:size]
        return list_page("calls", found, size)

    @app.post("/2010-04-01/Accounts/<account_sid>/Calls/<sid>.json")
    def update_call(account_sid: str, sid: str):
        """Hang up (`Status=completed` in progress, `canceled` while queued or ringing), as Twilio allows."""
        denied = refused(account_sid) or scripted("POST")
        if denied:
            return denied
        status = request.form.get("Status")
        with rec.lock:
            call = rec.calls.get(sid)
            if call is None or call["account_sid"] != account_sid:
                return error(404, 20404, f"The requested resource {request.path} was not found")
            if status not in (None, "completed", "canceled"):
                return error(400, 21218, "Invalid Status: must be canceled or completed")
            if status and call["status"] not in CALL_OVER:
                call["status"] = "completed" if call["status"] == "in-progress" else "canceled"
                call["end_time"] = _rfc2822()
            return jsonify(call)

    @app.delete("/2010-04-01/Accounts/<account_sid>/Calls/<sid>.json")
    def delete_call(account_sid: str, sid: str):
        """Delete a call record (204); 20009 while it is not over, 404/20404 if unknown."""
        denied = refused(account_sid) or scripted("DELETE")
        if denied:
            return denied
        with rec.lock:
            call = rec.calls.get(sid)
            if call is None or call["account_sid"] != account_sid:
                return error(404, 20404, f"The requested resource {request.path} was not found")
            if call["status"] not in CALL_OVER:
                return error(400, 20009, "Cannot delete this resource before it is complete")
            del rec.calls[sid]
            rec.deleted.append(sid)
        return "", 204

    @app.get("/_fake/messages")
    def list_messages():
        with rec.lock:
            return jsonify(list(rec.messages))

    @app.delete("/_fake/messages")
    def clear_messages():
        rec.reset()
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

    @app.post("/_fake/outage")
    def start_outage():
        """Answer every API call with {status, code} for `seconds` (JSON; no seconds: until DELETE)."""
        payload = request.get_json(silent=True) or {}
        seconds = payload.get("seconds")
        with rec.lock:
            rec.outage = {
                "status": int(payload.get("status", 429)),
                "code": int(payload.get("code", 20429)),
                "message": payload.get("message", "Too Many Requests"),
                "until": time.time() + float(seconds) if seconds is not None else None,
            }
        return "", 204

    @app.get("/_fake/outage")
    def outage_state():
        """The outage answering now (null if none) and how many calls outages answered so far."""
        with rec.lock:
            return jsonify(outage=rec.outage, answered=rec.outage_answers)

    @app.delete("/_fake/outage")
    def end_outage():
        with rec.lock:
            rec.outage = None
        return "", 204

    @app.post("/_fake/late")
    def accept_late():
        """Record the next `count` creates at once but answer them `ms` later (JSON)."""
        payload = request.get_json(silent=True) or {}
        with rec.lock:
            rec.late = {
                "count": int(payload.get("count", 1)),
                "delay_s": float(payload.get("ms", 0)) / 1000,
                "created_late": bool(payload.get("created_late")),
            }
        return "", 204

    @app.post("/_fake/latency")
    def set_latency():
        payload = request.get_json(silent=True) or {}
        rec.latency_s = float(payload.get("ms", 0)) / 1000
        return "", 204

    return app


WHATSAPP_WINDOW_S = 24 * 3600
"""WhatsApp's customer service window: freeform messages only within 24 h of the contact's last one."""


def _whatsapp_failure(rec: Recorder, to: str, body: str | None, content_sid: str | None, variables: str | None):
    """(code, message) Twilio fails a WhatsApp message with after accepting it, or None.

    A freeform body outside the 24-hour window fails with 63016
    (https://www.twilio.com/docs/api/errors/63016); a template whose ContentVariables
    do not fill its placeholders fails with 63028
    (https://www.twilio.com/docs/api/errors/63028). SMS never fails here.
    """
    if not to.startswith("whatsapp:"):
        return None
    with rec.lock:
        last = rec.whatsapp_last_inbound.get(to)
        placeholders = rec.templates.get(content_sid or "")
    if content_sid:
        if placeholders is None:
            return None  # a template the test did not describe: taken as approved and well filled
        try:
            given = json.loads(variables or "{}")
        except ValueError:
            given = None
        if not isinstance(given, dict) or len(given) != placeholders:
            return 63028, "Number of parameters provided does not match the expected number of parameters"
        return None
    if last is None or time.time() - last > WHATSAPP_WINDOW_S:
        return 63016, "Failed to send freeform message because you are outside the allowed window."
    return None


CALL_OVER = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
"""Twilio's final call statuses."""


def _rfc2822() -> str:
    return datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


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
        self.recorder.reset()

    def set_auth_token(self, token: str | None) -> None:
        """Accept only this auth token from now on (None: any), as after a rotation at Twilio."""
        with self.recorder.lock:
            self.recorder.auth_token = token

    def set_account_status(self, status: str) -> None:
        with self.recorder.lock:
            self.recorder.account_status = status

    def add_inbound(self, account_sid: str, media: list[tuple[str, bytes]] = (), from_: str = "") -> dict:
        """Seed a message Twilio received (with photos: (content type, bytes)); return sid and media URLs.

        From a `whatsapp:` address it opens that contact's 24-hour window, as a real inbound does.
        """
        if from_.startswith("whatsapp:"):
            self.whatsapp_inbound(from_)
        sid = "SM" + uuid.uuid4().hex
        items = []
        for content_type, content in media:
            media_sid = "ME" + uuid.uuid4().hex
            uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media/{media_sid}"
            items.append(
                {
                    "sid": media_sid,
                    "parent_sid": sid,
                    "content_type": content_type,
                    "uri": uri + ".json",
                    "_content": content,
                }
            )
        with self.recorder.lock:
            self.recorder.inbound[sid] = {"sid": sid, "media": items}
        return {"sid": sid, "media_urls": [self.url + m["uri"][: -len(".json")] for m in items]}

    def whatsapp_inbound(self, address: str, at: float | None = None) -> None:
        """Tell the fake a WhatsApp contact wrote at `at` (default now): freeform texts reach them 24 h."""
        with self.recorder.lock:
            self.recorder.whatsapp_last_inbound[address] = time.time() if at is None else at

    def add_template(self, content_sid: str, placeholders: int) -> None:
        """Describe an approved template: a send must fill exactly this many placeholders (else 63028)."""
        with self.recorder.lock:
            self.recorder.templates[content_sid] = placeholders

    def take_callbacks(self) -> list[dict]:
        """The status callbacks Twilio would have posted since the last call (the test delivers them)."""
        with self.recorder.lock:
            found, self.recorder.callbacks[:] = list(self.recorder.callbacks), []
            return found

    def deleted(self) -> list[str]:
        with self.recorder.lock:
            return list(self.recorder.deleted)

    def inbound_left(self) -> list[str]:
        with self.recorder.lock:
            return list(self.recorder.inbound)

    def add_call(
        self, account_sid: str, from_: str, to: str, status: str = "in-progress", parent: str | None = None
    ) -> str:
        """Seed a call Twilio is carrying (a caller's, or with `parent` a leg its <Dial> rang); return its sid."""
        sid = "CA" + uuid.uuid4().hex
        call = {
            "sid": sid,
            "account_sid": account_sid,
            "parent_call_sid": parent,
            "to": to,
            "from": from_,
            "status": status,
            "direction": "outbound-dial" if parent else "inbound",
            "start_time": _rfc2822(),
            "end_time": None,
            "duration": None,
            "price": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}.json",
        }
        with self.recorder.lock:
            self.recorder.calls[sid] = call
        return sid

    def dial(self, parent_sid: str, numbers: list[str], status: str = "ringing") -> list[str]:
        """Seed the legs a <Dial> rings from a call (one per <Number>); return their sids."""
        with self.recorder.lock:
            parent = dict(self.recorder.calls[parent_sid])
        return [self.add_call(parent["account_sid"], parent["to"], n, status, parent=parent_sid) for n in numbers]

    def set_call_status(self, sid: str, status: str) -> None:
        with self.recorder.lock:
            self.recorder.calls[sid]["status"] = status
            if status in CALL_OVER:
                self.recorder.calls[sid]["end_time"] = _rfc2822()

    def calls(self) -> list[dict]:
        with self.recorder.lock:
            return [dict(c) for c in self.recorder.calls.values()]

    def start_outage(self, status: int = 429, code: int = 20429, seconds: float | None = None) -> None:
        """Answer every API call with this error until `end_outage` (or for `seconds`)."""
        with self.recorder.lock:
            until = time.time() + seconds if seconds is not None else None
            self.recorder.outage = {"status": status, "code": code, "message": "Too Many Requests", "until": until}

    def end_outage(self) -> None:
        with self.recorder.lock:
            self.recorder.outage = None

    def accept_late(self, count: int, delay_s: float | None = None, created_late: bool = False) -> None:
        """Answer the next `count` creates late (beyond the client's timeout); listed at once or only then.

        `delay_s` None: each waits until `release_late` (at most a minute), so a test decides
        the moment Twilio "accepts" without racing a clock.
        """
        with self.recorder.lock:
            self.recorder.late_gate.clear()
            gated = delay_s is None
            self.recorder.late = {
                "count": count,
                "delay_s": 60.0 if gated else delay_s,
                "created_late": created_late,
                "gated": gated,
            }

    def release_late(self) -> None:
        """Let every gated late answer leave now (the message is created then, if `created_late`)."""
        self.recorder.late_gate.set()

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
