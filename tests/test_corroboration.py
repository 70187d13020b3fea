"""Corroboration that means something: weights per reporter, and a burst of newcomers is "unusual".

The drill this answers: 200 never-seen numbers reported one spot within seconds
and made one incident "corroborated by 200 reporters"; 3 observers were sent and
nobody was warned. And two web chat ids at one spot made an incident
"corroborated". Real Redis, signed webhooks, the fake Twilio (docs/incidents.md
"Corroboration" has the rule).
"""

from __future__ import annotations

import pytest
from test_dispatch import SCENE, add_observer
from test_end_to_end import _report

from bot import incidents, privacy, store
from bot.incidents import Report

T0 = 1_780_000_000.0
DAY = 24 * 3600


@pytest.fixture
def cfg(settings):
    return settings


def _merge(r, cfg, contact: str, now: float = T0, channel: str = "sms", point=SCENE):
    report = Report(contact, point[0], point[1], 30, "raid", {}, "en", channel)
    return incidents.merge_report(r, report, cfg, now)


def _established(r, *contacts: str, days: float = 3) -> None:
    """Contacts whose first report was days ago (their de-identified first-seen mark)."""
    for contact in contacts:
        r.hset(store.contact_key(contact), "first_seen", repr(T0 - days * DAY))


def test_two_neighbours_texting_for_the_first_time_still_corroborate(r, cfg):
    _merge(r, cfg, "c1")
    second = _merge(r, cfg, "c2", T0 + 60)
    assert second.status == "corroborated" and second.escalated and not second.unusual


def test_two_web_chats_at_one_spot_do_not_corroborate(r, cfg):
    first = _merge(r, cfg, "w1", channel="web")
    second = _merge(r, cfg, "w2", T0 + 30, channel="web")
    assert second.incident_id == first.incident_id and second.status == "reported"
    third = _merge(r, cfg, "c1", T0 + 60)  # a phone number and two chats: 10 + 5 + 5 tenths
    assert third.status == "corroborated"
    assert incidents.get(r, first.incident_id)["believed"] == ["3 distinct reporters"]


def test_a_phone_and_a_web_chat_are_not_yet_two_reporters(r, cfg):
    _merge(r, cfg, "c1")
    assert _merge(r, cfg, "w1", T0 + 30, channel="web").status == "reported"


def test_a_trusted_contact_or_an_observer_corroborates_alone(r, cfg, settings):
    r.hset(store.contact_key("t1"), "trust", "trusted")
    _merge(r, cfg, "c1")
    assert _merge(r, cfg, "t1", T0 + 30).status == "corroborated"
    observer_id = add_observer(r, settings, "Ana", "+13235550301", km_north=1)
    far = (SCENE[0] + 0.2, SCENE[1])  # another scene, 22 km north
    merge = _merge(r, cfg, observer_id, point=far)
    assert merge.status == "corroborated" and incidents.get(r, merge.incident_id)["believed"] == ["observer reported"]


def test_a_burst_of_newcomers_is_unusual_and_stays_reported(r, cfg):
    merges = [_merge(r, cfg, f"new-{i}", T0 + i) for i in range(incidents.BURST_AT + 20)]
    assert len({m.incident_id for m in merges}) == 1
    assert [i for i, m in enumerate(merges) if m.unusual] == [incidents.BURST_AT - 1], "flagged once, at the 5th"
    incident = incidents.get(r, merges[0].incident_id)
    assert incident["status"] == "reported" and incident["reporters"] == incidents.BURST_AT + 20
    assert incident["unusual"].startswith(f"{incidents.BURST_AT} new reporters")
    timeline = incidents.timeline(r, merges[0].incident_id)
    demoted = [e for e in timeline if e["event"] == "status" and e.get("status") == "reported"]
    assert demoted and demoted[-1]["reason"].startswith("unusual"), "two newcomers had corroborated it: undone"


def test_established_numbers_corroborate_a_burst_but_the_burst_alone_never_does(r, cfg):
    for i in range(incidents.BURST_AT):
        _merge(r, cfg, f"new-{i}", T0 + i)
    _established(r, "old-1", "old-2")
    assert _merge(r, cfg, "old-1", T0 + 30).status == "reported", "one established number is one reporter"
    joined = _merge(r, cfg, "old-2", T0 + 40)
    assert joined.status == "corroborated" and joined.escalated


def test_newcomers_spread_over_more_than_the_window_are_not_a_burst(r, cfg):
    step = incidents.BURST_WINDOW_S / (incidents.BURST_AT - 1) + 1
    merges = [_merge(r, cfg, f"new-{i}", T0 + i * step) for i in range(incidents.BURST_AT + 2)]
    assert not any(m.unusual for m in merges) and merges[-1].status == "corroborated"


def test_first_seen_is_a_de_identified_mark_on_the_contacts_hash(r, cfg):
    cid = privacy.contact_id("test-secret", "+13235550777")
    _merge(r, cfg, cid)
    assert r.hget(store.contact_key(cid), "first_seen") == repr(T0)
    assert r.ttl(store.contact_key(cid)) > 0, "it expires with the contact's other marks"
    for key in r.scan_iter("*"):
        assert "3235550777" not in key
        if r.type(key) == "hash":
            assert not any("3235550777" in v for v in r.hvals(key))
    _merge(r, cfg, cid, T0 + 2 * DAY, point=(SCENE[0] + 0.2, SCENE[1]))
    assert r.hget(store.contact_key(cid), "first_seen") == repr(T0), "first seen stays the first"


TRAP = 200
"""Never-seen numbers at one spot through signed webhooks: the drill's 200."""


def test_trap_through_signed_webhooks_warns_coordinators_once_and_tells_observers_it_is_unconfirmed(
    settings, rt, r, phone, worker, twilio_outbox
):
    add_observer(r, settings, "Ana", "+13235550301", km_north=1)
    add_observer(r, settings, "Beto", "+13235550302", km_north=2, languages="es")
    _report(phone, from_="+13235559000")
    worker()  # the first report is dispatched before the trap shows: the normal text
    for i in range(1, TRAP):
        _report(phone, from_=f"+1323555{9000 + i}")
    worker()
    [incident] = incidents.list_open(r)
    assert incident["status"] == "reported" and incident["unusual"], incident
    assert incident["reporters"] == TRAP
    to_ana = [m["body"] for m in twilio_outbox.messages() if m["to"] == "+13235550301"]
    to_beto = [m["body"] for m in twilio_outbox.messages() if m["to"] == "+13235550302"]
    assert any("caution, this report is unconfirmed" in b for b in to_ana), to_ana
    assert any("cuidado, reporte no confirmado" in b for b in to_beto), to_beto
    coordinator = [m["body"] for m in twilio_outbox.messages() if m["to"] in settings.coordinators]
    assert len(coordinator) == 1 and "1 unusual burst" in coordinator[0] and incident["ref"] in coordinator[0]


def test_observers_texted_after_the_burst_get_the_unconfirmed_dispatch(settings, rt, r, phone, worker, twilio_outbox):
    add_observer(r, settings, "Ana", "+13235550301", km_north=1)
    add_observer(r, settings, "Beto", "+13235550302", km_north=2, languages="es")
    for i in range(incidents.BURST_AT):
        _report(phone, from_=f"+1323555{9100 + i}")
    worker()
    to_ana = [m["body"] for m in twilio_outbox.messages() if m["to"] == "+13235550301"]
    to_beto = [m["body"] for m in twilio_outbox.messages() if m["to"] == "+13235550302"]
    assert len(to_ana) == 1 and "UNCONFIRMED report" in to_ana[0], to_ana
    assert len(to_beto) == 1 and "reporte NO CONFIRMADO" in to_beto[0], to_beto


def test_a_reopened_unusual_incident_goes_back_to_reported(rt, r, cfg):
    from bot.dispatch import lifecycle

    merges = [_merge(r, cfg, f"new-{i}", T0 + i) for i in range(incidents.BURST_AT)]
    incident_id = merges[0].incident_id
    lifecycle.close(rt, incident_id, "maria", T0 + 100, tell=False)
    lifecycle.reopen(rt, incident_id, "maria", T0 + 200)
    assert incidents.get(r, incident_id)["status"] == "reported"


def test_the_console_shows_an_unusual_incident_as_needing_a_coordinator(rt, r, settings, coordinator):
    import time

    merges = [_merge(r, settings, f"new-{i}", time.time()) for i in range(incidents.BURST_AT)]
    console = coordinator()
    [row] = console.get("/dashboard/api/incidents").get_json()
    assert row["ref"] == merges[0].ref and row["needs_action"] and "unusual" in row["reasons"]
    assert row["status"] == "reported" and row["unusual"]


def test_merging_an_unusual_incident_carries_its_flag_and_weights(rt, r, settings):
    import time

    from bot.dispatch import lifecycle

    now = time.time()
    burst = [_merge(r, settings, f"new-{i}", now + i) for i in range(incidents.BURST_AT)]
    other = _merge(r, settings, "c-far", now, point=(SCENE[0] + 0.2, SCENE[1]))
    lifecycle.merge(rt, burst[0].incident_id, other.incident_id, "maria", now + 10)
    merged = incidents.get(r, other.incident_id)
    assert merged["unusual"] and r.hget(store.incident_key(other.incident_id), "weight") == str(
        10 * (incidents.BURST_AT + 1)
    )
