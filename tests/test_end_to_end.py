"""The spine: signed webhooks carry a whole report; the nearest on-call observer is texted and accepts."""

from __future__ import annotations

import zlib

import redis as redis_lib

from bot import incidents, observers, privacy, store

NEAR = "+13235550201"  # about 2 km north of the reported corner
FAR = "+16615550202"  # about 40 km north: outside everyone's radius
REPORTER = "+13235550123"
PIN = {"Latitude": "33.97690", "Longitude": "-118.21610"}


def _roster(tmp_path, settings, r):
    csv = tmp_path / "observers.csv"
    csv.write_text(
        "name,phone,languages,location,radius_km,on_call\n"
        f'Near,{NEAR},en;es,"33.99490,-118.21610",10,yes\n'
        f'Far,{FAR},en,"34.33660,-118.21610",10,yes\n'
    )
    result = observers.import_csv(r, settings, str(csv))
    assert result.imported == 2 and not result.errors


ANSWERS = (  # (words in the hotline's question, the reporter's answer), English and Spanish
    (("what do you see", "qué ve"), {"Body": "2"}),
    (("which cross streets", "entre qué calles"), {"Body": "Pacific and Florence"}),
    (("where", "dónde"), {"Body": "", **PIN}),
    (("when", "cuándo"), {"Body": "now"}),
    (("how many", "cuántos"), {"Body": "4 agents 2 cars"}),
    (("identifies", "identifica"), {"Body": "1 6 7"}),
    (("detained", "deteniendo"), {"Body": "yes"}),
)


SENT = ("observers are being alerted", "avisando a los observadores")
"""What the flow says when the report went to observers (it keeps asking details after)."""


def _report(
    phone, first: str = "I see agents detaining someone", from_: str = REPORTER, until=SENT, answers=ANSWERS
) -> list[str]:
    """Answer whatever the sighting flow asks (with `answers`) until it says `until` (default: the report was sent)."""
    replies = phone.text(first, from_=from_)
    for _ in range(10):
        if any(word in reply.lower() for reply in replies[-2:] for word in until):
            return replies
        last = replies[-1].lower()
        answer = next((a for words, a in answers if any(w in last for w in words)), None)
        assert answer, f"unexpected question: {replies[-1]}"
        extra = {k: v for k, v in answer.items() if k != "Body"}
        replies += phone.text(answer["Body"], from_=from_, **extra)
    raise AssertionError(f"the flow never finished: {replies}")


def test_a_text_reaches_the_nearest_on_call_observer_and_yes_is_recorded(
    tmp_path, settings, r, phone, worker, twilio_outbox
):
    _roster(tmp_path, settings, r)
    replies = _report(phone)
    assert any("observers are being alerted" in reply for reply in replies), replies

    open_incidents = incidents.list_open(r)
    assert len(open_incidents) == 1
    incident = open_incidents[0]

    worker()  # the dispatch job, on the real Redis
    texted = {m["to"] for m in twilio_outbox.messages()}
    assert NEAR in texted, "the observer 2 km away is texted"
    assert FAR not in texted, "the observer 40 km away is not"

    accept = phone.text("YES", from_=NEAR)
    assert accept, "the observer gets an answer to YES"
    states = r.hgetall(store.incident_dispatch_key(incident["id"]))
    near_id = privacy.contact_id(settings.secret, NEAR)
    assert states.get(near_id) == "accepted"
    assert incidents.list_open(r)[0]["accepted"] == 1


def _everything_stored(redis_url: str) -> list[tuple[bytes, bytes]]:
    """Every key and value in Redis as bytes, RQ's compressed job payloads unpacked."""
    raw = redis_lib.Redis.from_url(redis_url)
    out = []
    for key in raw.scan_iter(b"*"):
        kind = raw.type(key)
        if kind == b"string":
            values = [raw.get(key)]
        elif kind == b"hash":
            values = [k + b"=" + v for k, v in raw.hgetall(key).items()]
        elif kind == b"set":
            values = list(raw.smembers(key))
        elif kind == b"zset":
            values = raw.zrange(key, 0, -1)
        elif kind == b"list":
            values = raw.lrange(key, 0, -1)
        elif kind == b"stream":
            values = [repr(entry).encode() for entry in raw.xrange(key)]
        else:
            values = []
        for value in values:
            out.append((key, value))
            try:
                out.append((key, zlib.decompress(value.split(b"=", 1)[-1])))
            except zlib.error:  # not compressed: already checked as is
                pass
    return out


def test_reporter_number_is_not_stored_in_clear(tmp_path, settings, r, phone, worker, redis_server):
    _roster(tmp_path, settings, r)
    _report(phone)
    worker()
    digits = REPORTER.lstrip("+1").encode()
    leaks = [key for key, value in _everything_stored(redis_server) if digits in value or digits in key]
    assert not leaks, f"the reporter's number is stored in clear under {leaks}"


def test_second_report_of_the_same_scene_joins_the_incident(settings, r, phone, worker):
    _report(phone)
    replies = _report(phone, first="hola, hay migra deteniendo a alguien", from_="+13235550124")
    assert any("enviado" in reply for reply in replies), "the second reporter is answered in Spanish"
    open_incidents = incidents.list_open(r)
    assert len(open_incidents) == 1
    assert open_incidents[0]["reporters"] == 2


def test_reporter_who_asks_for_a_call_hears_an_observer_is_on_the_way_without_who(
    tmp_path, settings, r, phone, worker, twilio_outbox
):
    _roster(tmp_path, settings, r)
    _report(phone, until=("are you safe",))
    phone.text("2", from_=REPORTER)  # "yes, and please call me"
    worker()  # dispatch + the coordinators' call-back text
    phone.text("YES", from_=NEAR)
    worker()  # the follow-up job
    to_reporter = [m["body"] for m in twilio_outbox.messages() if m["to"] == REPORTER]
    assert len(to_reporter) == 1, to_reporter
    assert "Near" not in to_reporter[0] and "km" not in to_reporter[0], "never who or from where"
    to_coordinators = [m["body"] for m in twilio_outbox.messages() if m["to"] in settings.coordinators]
    assert any("call-back" in body for body in to_coordinators)
