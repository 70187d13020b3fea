"""conversation.respond against the real Redis: versions, hot reload, drafts, DELETE/STOP, actions, timers."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path

import pytest
import redis
from rq.registry import ScheduledJobRegistry

from bot import alerts, contacts, create_app, i18n, privacy, runtime, store
from bot.channels import Inbound, Media
from bot.conversation import ActionCall, check_paths, registry, respond, sessions

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_780_000_000.0
E164 = "+13235550142"
_sids = itertools.count(1)


@pytest.fixture
def flows_dir(tmp_path) -> Path:
    """A private copy of the shipped flows that a test may edit."""
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    return folder


@pytest.fixture
def hot(rt, flows_dir):
    """A runtime on the test Redis whose flows folder is the private copy."""
    return runtime.Runtime(settings=rt.settings.replace(flows_dir=str(flows_dir)), redis_url=rt.redis_url)


class Recorder:
    """Real, tiny flow actions that remember what they were called with."""

    def __init__(self):
        self.calls: list[ActionCall] = []

    def submit(self, rt, call):
        self.calls.append(call)
        return {"ref": "R7", "incident_id": "7"}

    def update(self, rt, call):
        self.calls.append(call)
        return dict(call.answers.get("report") or {})

    def callback(self, rt, call):
        self.calls.append(call)
        return {"status": "queued"}

    def table(self) -> dict:
        return {
            "report.submit": self.submit,
            "report.update": self.update,
            "handoff.callback": self.callback,
            "alerts.subscribe": alerts.subscribe,
            "alerts.unsubscribe": alerts.unsubscribe,
        }


def text(rt, body: str, actions=None, e164: str = E164, now: float = NOW, **extra) -> list[str]:
    inbound = Inbound(
        channel=extra.pop("channel", "sms"), address=e164, body=body, message_sid=f"SM{next(_sids)}", **extra
    )
    cid = privacy.contact_id(rt.settings.secret, e164)
    return respond(rt, cid, inbound, now, actions if actions is not None else Recorder().table())


def touch(path: Path, content: str) -> None:
    """Write a file and move its mtime forward, as an editor saving it would."""
    path.write_text(content, encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime + 5, stat.st_mtime + 5))
    registry.expire_checks()  # the registry and catalogs look at the disk at most once a second
    i18n.expire_checks()


def edit(path: Path, old: str, new: str) -> None:
    source = path.read_text(encoding="utf-8")
    assert old in source
    touch(path, source.replace(old, new))


def test_full_report_calls_submit_with_the_contract_answer_names(hot, r):
    rec = Recorder()
    replies = text(hot, "migra en Pacific y Florence hace 10 min", rec.table())
    assert replies[0].startswith("Reporte R7 enviado")  # place + activity: submitted on the first text
    (call,) = rec.calls
    assert call.name == "report.submit" and call.language == "es" and call.e164 == E164
    a = call.answers
    assert (a["activity"], a["started_at"], a["identifiers"]) == ("agents", int(NOW - 600), ["ice"])
    assert a["where"]["precision"] == "street" and {"lat", "lon", "label", "source", "precision_m"} <= set(a["where"])
    for body in ("3 agentes 1 carro", "no"):
        replies = text(hot, body, rec.table())
    assert replies[0].startswith("Gracias, los observadores ya lo tienen todo")
    assert {c.name for c in rec.calls[1:]} == {"report.update"}
    a = rec.calls[-1].answers
    assert (a["agents"], a["vehicles"], a["detained"], a["report"]["ref"]) == (3, 1, "no", "R7")
    text(hot, "2", rec.table())
    assert rec.calls[-1].name == "handoff.callback"
    assert rec.calls[-1].answers["safe"] == "yes" and rec.calls[-1].answers["callback"] == "yes"


def test_waiting_caller_finishes_on_the_version_they_started(hot, flows_dir, r):
    assert text(hot, "report")[0].startswith("Hotline: where is it happening?")
    edit(flows_dir / "sighting.yaml", "languages: [en, es]", "languages: [en]")  # an English-only edit is complete
    edit(flows_dir / "sighting.yaml", '"What do you see? Reply 1', '"WHAT NOW? Reply 1')
    assert text(hot, "90011")[0].startswith("What do you see? Reply 1")
    assert text(hot, "report", e164="+13235550143")
    assert text(hot, "90011", e164="+13235550143")[0].startswith("WHAT NOW?")


def test_pinned_version_is_read_from_redis_by_a_fresh_process(hot, flows_dir, r):
    text(hot, "report")
    edit(flows_dir / "sighting.yaml", '"What do you see? Reply 1', '"WHAT NOW? Reply 1')
    registry._registries.clear()  # a new process: it never saw the old file
    assert text(hot, "90011")[0].startswith("What do you see? Reply 1")


def test_a_broken_edit_never_replaces_the_working_flow(hot, flows_dir, r):
    text(hot, "report", e164="+13235550144")
    touch(flows_dir / "sighting.yaml", "flow: sighting\nsteps: [oops\n")
    assert text(hot, "report")[0].startswith("Hotline: where is it happening?")
    edit_target = flows_dir / "sighting.yaml"
    shutil.copy(ROOT / "flows" / "sighting.yaml", edit_target)
    edit(edit_target, "next: who\n", "next: nowhere\n")  # a next naming no step fails the check
    assert text(hot, "report", e164="+13235550145")[0].startswith("Hotline: where is it happening?")


def test_reload_picks_up_a_good_edit_for_new_conversations(hot, flows_dir, r):
    edit(flows_dir / "sighting.yaml", '"Hotline: where is it', '"Hotline v2: where is it')
    assert text(hot, "report")[0].startswith("Hotline v2: where is it")


def test_draft_flow_runs_only_for_its_test_numbers(hot, flows_dir, r):
    draft = (ROOT / "flows" / "sighting.yaml").read_text(encoding="utf-8")
    draft = draft.replace("languages: [en, es]\n", "languages: [en, es]\ndraft: true\ntest_numbers: ['+13235550199']\n")
    draft = draft.replace('"Hotline: where is it', '"DRAFT: where is it')
    touch(flows_dir / "sighting.draft.yaml", draft)
    assert text(hot, "report", e164="+13235550199")[0].startswith("DRAFT: where is it")
    assert text(hot, "report")[0].startswith("Hotline: where is it happening?")


def test_stop_is_recorded_where_outbox_reads_it_and_silences_everything(hot, r):
    cid = privacy.contact_id(hot.settings.secret, E164)
    text(hot, "report")
    assert text(hot, "Stop.") == []
    assert contacts.is_opted_out(r, cid) and sessions.load(r, cid) is None
    assert text(hot, "hola hay migra") == []
    assert text(hot, "yes")[0].startswith("You're back in")  # Twilio's opt-in word, for an opted-out number
    assert not contacts.is_opted_out(r, cid)


def test_delete_erases_session_language_and_alerts_but_keeps_an_opt_out(hot, r):
    cid = privacy.contact_id(hot.settings.secret, E164)
    text(hot, "alertas 90011")
    assert r.exists(store.contact_key(cid)) and r.smembers(store.subscribers_key("90011")) != set()
    text(hot, "derechos")
    contacts.opt_out(r, cid)
    contacts.opt_in(r, cid)
    assert text(hot, "BORRAR")[0].startswith("Borramos lo que guardamos")
    assert not r.exists(store.session_key(cid), store.contact_key(cid))
    assert cid not in r.smembers(store.subscribers_key("90011"))
    contacts.opt_out(r, cid)
    assert text(hot, "delete") == []  # an opted-out number is never texted, even to confirm
    contacts.erase(r, cid)
    assert contacts.is_opted_out(r, cid)


def test_first_message_language_is_remembered_for_the_next_conversation(hot, r):
    text(hot, "hola, hay migra")
    text(hot, "STOP")
    text(hot, "START")
    assert text(hot, "report")[0].startswith("Línea: ¿dónde está pasando?")


def test_a_failing_action_takes_the_on_error_step(hot, r):
    def broken(rt, call):
        raise RuntimeError("incident store down")

    actions = {**Recorder().table(), "report.submit": broken}
    replies = text(hot, "ICE at 90011 now", actions)
    assert replies == ["Sorry, we couldn't send your report. Please call +13105550111 now."]
    assert sessions.load(r, privacy.contact_id(hot.settings.secret, E164)) is None


def test_a_missing_action_takes_the_on_error_step(hot, r):
    replies = text(hot, "ICE at 90011 now", {})
    assert replies == ["Sorry, we couldn't send your report. Please call +13105550111 now."]


def test_a_pin_answers_the_location_step_and_photos_are_kept(hot, r):
    text(hot, "report", channel="whatsapp")
    assert text(hot, "", channel="whatsapp", lat=33.9755, lon=-118.2250)[0].startswith("What do you see?")
    assert text(hot, "", media=(Media("https://api.twilio.com/m/1", "image/jpeg"),)) == ["Photo received, thank you."]
    session = sessions.load(r, privacy.contact_id(hot.settings.secret, E164))
    assert session.answers["where"]["source"] == "pin" and session.answers["media"] == ["https://api.twilio.com/m/1"]


AMBIGUOUS_PLACES = """streets:
  main: [Main St, Main]
  first: [1st St, First St, 1st]
intersections:
  - {at: [main, first], city: Alhambra, lat: 34.0953, lon: -118.1270, source: test}
  - {at: [main, first], city: Los Angeles, lat: 34.0522, lon: -118.2437, source: test}
"""


def test_an_ambiguous_place_gets_one_short_question(hot, flows_dir, r):
    touch(flows_dir / "places.yaml", AMBIGUOUS_PLACES)
    text(hot, "report")
    (question,) = text(hot, "Main and 1st")
    assert question.startswith("Which one? Reply 1 ") and "2 " in question
    assert text(hot, "2")[0].startswith("What do you see?")
    where = sessions.load(r, privacy.contact_id(hot.settings.secret, E164)).answers["where"]
    assert round(where["lat"], 2) in (34.05, 34.10)


class CountingConnection(redis.Connection):
    """Counts writes to the socket: one per command, one per pipeline (= round trips)."""

    trips = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.trips += 1
        return super().send_packed_command(command, check_health)


def test_a_message_mid_flow_costs_two_redis_round_trips_with_its_timers(hot, r):
    counted = runtime.Runtime(settings=hot.settings, redis_url=hot.redis_url)
    for attr, decode in (("r", True), ("r_raw", False)):
        pool = redis.ConnectionPool.from_url(
            hot.redis_url, decode_responses=decode, connection_class=CountingConnection
        )
        counted.__dict__[attr] = redis.Redis(connection_pool=pool)
    text(counted, "report")
    text(counted, "report", e164="+13235550150")  # connections are open from here on
    before = CountingConnection.trips
    assert text(counted, "90011")[0].startswith("What do you see?")  # a reminder timer, in the same pipeline
    assert CountingConnection.trips - before == 2
    assert len(ScheduledJobRegistry(queue=counted.queue("default")).get_job_ids()) == 3


def test_web_chat_sessions_never_schedule_texts(hot, r):
    text(hot, "report", channel="web", e164="web:abc")
    assert ScheduledJobRegistry(queue=hot.queue("default")).get_job_ids() == []


NUDGE = """flow: nudge
languages: [en]
start: what
expire: 30m
on_expire: closed
steps:
  what:
    ask: "What do you see? Reply 1 agents, 2 other"
    expect:
      choice:
        agents: "1 | agents"
        other: "2 | other"
    save: activity
    timeout: 10m
    remind: "Still there? Reply 1 or 2."
    next: done
  done:
    say: "Thanks."
    end: true
  closed:
    say: "We closed this conversation. Text again any time."
    end: true
"""


def test_reminder_then_expiry_message_only_because_the_flow_says_so(
    settings, flows_dir, r, twilio_outbox, release_scheduled, worker
):
    (flows_dir / "nudge.yaml").write_text(NUDGE)
    edit(flows_dir / "_globals.yaml", "triggers:\n", "triggers:\n  - {words: nudge, flow: nudge}\n")
    quiet = create_app(settings.replace(flows_dir=str(flows_dir))).extensions["hotline"]  # the worker's runtime
    now = time.time()
    assert text(quiet, "nudge", now=now) == ["What do you see? Reply 1 agents, 2 other"]
    release_scheduled(11 * 60)
    worker()
    assert [m["body"] for m in twilio_outbox.messages()] == ["Still there? Reply 1 or 2."]
    release_scheduled(31 * 60)
    worker()
    assert [m["body"] for m in twilio_outbox.messages()][1:] == ["We closed this conversation. Text again any time."]
    assert sessions.load(r, privacy.contact_id(settings.secret, E164)) is None


def test_timers_of_a_conversation_that_moved_on_send_nothing(
    settings, flows_dir, r, twilio_outbox, release_scheduled, worker
):
    (flows_dir / "nudge.yaml").write_text(NUDGE)
    edit(flows_dir / "_globals.yaml", "triggers:\n", "triggers:\n  - {words: nudge, flow: nudge}\n")
    quiet = create_app(settings.replace(flows_dir=str(flows_dir))).extensions["hotline"]
    now = time.time()
    text(quiet, "nudge", now=now)
    assert text(quiet, "1", now=now + 60) == ["Thanks."]
    text(quiet, "nudge", now=now + 120)  # a new conversation at the same step
    release_scheduled(10 * 60 + 30)  # only the first conversation's reminder is due
    worker()
    assert twilio_outbox.messages() == []


def test_two_texts_answered_at_once_never_lose_an_answer(hot, r):
    import threading

    for n in range(8):
        e164 = f"+1323555{n:04d}"
        text(hot, "report", e164=e164)
        gate = threading.Barrier(2)

        def send(body, e164=e164, gate=gate):
            gate.wait()
            text(hot, body, e164=e164)

        threads = [threading.Thread(target=send, args=(b,)) for b in ("90011", "zzzz")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        session = sessions.load(r, privacy.contact_id(hot.settings.secret, e164))
        assert session.step == "what" and session.answers["where"]["source"] == "zip"


def test_save_if_unchanged_refuses_a_stale_counter(r):
    from bot.conversation.model import Session

    session = Session(flow="sighting", version="v1", step="where", counter=5)
    pipe = r.pipeline()
    sessions.queue_save_if_unchanged(pipe, "c1", session, 60, "")
    assert pipe.execute() == [1]
    session.step = "what"
    pipe = r.pipeline()
    sessions.queue_save_if_unchanged(pipe, "c1", session, 60, "4")
    assert pipe.execute() == [0] and sessions.load(r, "c1").step == "where"
    pipe = r.pipeline()
    sessions.queue_save_if_unchanged(pipe, "c1", session, 60, "5")
    assert pipe.execute() == [1] and sessions.load(r, "c1").step == "what"


def test_a_broken_catalog_never_replaces_the_working_translations(hot, tmp_path, r):
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", locales)
    spanish = runtime.Runtime(settings=hot.settings.replace(locales_dir=str(locales)), redis_url=hot.redis_url)
    assert text(spanish, "hola")[0].startswith("Línea: ¿dónde está pasando?")
    po = locales / "es" / "LC_MESSAGES" / "messages.po"
    whole = po.read_text(encoding="utf-8")
    touch(po, "garbage here\n" + whole)  # unreadable
    assert text(spanish, "hola", e164="+13235550160")[0].startswith("Línea: ¿dónde está pasando?")
    touch(po, whole[: len(whole) // 5])  # saved half-way
    assert text(spanish, "hola", e164="+13235550161")[0].startswith("Línea: ¿dónde está pasando?")


def test_a_photo_as_the_first_message_is_kept_with_the_report(hot, r):
    photo = (Media("https://api.twilio.com/m/first", "image/jpeg"),)
    assert text(hot, "", media=photo)[0].startswith("Hotline: where is it happening?")
    session = sessions.load(r, privacy.contact_id(hot.settings.secret, E164))
    assert session.answers["media"] == ["https://api.twilio.com/m/first"]


def test_an_untranslated_edit_never_replaces_the_working_flow_until_it_is_translated(
    hot, flows_dir, tmp_path, r, caplog
):
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", locales)
    live = runtime.Runtime(settings=hot.settings.replace(locales_dir=str(locales)), redis_url=hot.redis_url)
    assert text(live, "report")[0].startswith("Hotline: where is it happening?")
    edit(flows_dir / "sighting.yaml", '"Hotline: where is it happening?', '"Hotline: where are they?')
    assert text(live, "report", e164="+13235550171")[0].startswith("Hotline: where is it happening?")
    assert "untranslated in es: sighting.where.ask" in caplog.text  # the log says why
    po = locales / "es" / "LC_MESSAGES" / "messages.po"
    whole = po.read_text(encoding="utf-8")
    touch(
        po,
        whole + '\nmsgctxt "sighting.where.ask"\nmsgid "Hotline: where are they? Send cross streets (like '
        'Pacific & Florence), a ZIP code, or share your location."\nmsgstr "Línea: ¿dónde están? Envíe las calles '
        '(como Pacific y Florence), un código postal, o comparta su ubicación."\n',
    )
    assert text(live, "report", e164="+13235550172")[0].startswith("Hotline: where are they?")


def test_a_catalog_with_broken_syntax_is_refused_not_cut(hot, tmp_path, r):
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", locales)
    spanish = runtime.Runtime(settings=hot.settings.replace(locales_dir=str(locales)), redis_url=hot.redis_url)
    assert text(spanish, "hola")[0].endswith("ubicación.")
    po = locales / "es" / "LC_MESSAGES" / "messages.po"
    whole = po.read_text(encoding="utf-8")
    touch(po, whole.replace('o comparta su ubicación."', "o comparta su ubicación.", 1))  # a lost closing quote
    assert text(spanish, "hola", e164="+13235550173")[0].endswith("ubicación."), "the working catalog stays"
    assert check_paths([str(ROOT / "flows")], str(locales))[0].message.startswith("broken catalog syntax")
