"""Closed incidents are thinned after a day and deleted after 30 days; open ones are untouched."""

from __future__ import annotations

import json

from bot import incidents, retention, store

T0 = 1_800_000_000.0


def _incident(r, settings, contact="c1", lat=33.97691234, lon=-118.21612345):
    report = incidents.Report(
        contact_id=contact,
        lat=lat,
        lon=lon,
        precision_m=30,
        kind="raid",
        details={"markings": "plate 7ABC123", "agents": 4, "label": "1234 Main St"},
        language="en",
        channel="sms",
    )
    return incidents.merge_report(r, report, settings, T0).incident_id


def test_closed_incident_is_thinned_after_a_day(rt, r, settings):
    incident_id = _incident(r, settings)
    incidents.set_status(r, incident_id, "closed", T0 + 60, "clear")
    assert retention.purge(rt, T0 + 60 + 23 * 3600) == {"closed": 0, "thinned": 0, "deleted": 0}
    assert retention.purge(rt, T0 + 60 + 25 * 3600) == {"closed": 0, "thinned": 1, "deleted": 0}
    data = r.hgetall(store.incident_key(incident_id))
    assert data["lat"] == "33.98" and data["lon"] == "-118.22"
    details = json.loads(data["details"])
    assert "markings" not in details and "label" not in details and details["agents"] == 4
    assert not r.exists(store.incident_reporters_key(incident_id))


def test_closed_incident_is_deleted_after_thirty_days(rt, r, settings):
    incident_id = _incident(r, settings)
    incidents.set_status(r, incident_id, "closed", T0, "clear")
    assert retention.purge(rt, T0 + 31 * 86400)["deleted"] == 1
    assert not r.exists(store.incident_key(incident_id), store.incident_timeline_key(incident_id))


def test_an_active_open_incident_is_left_alone(rt, r, settings):
    incident_id = _incident(r, settings)
    assert retention.purge(rt, T0 + 60) == {"closed": 0, "thinned": 0, "deleted": 0}
    assert r.hget(store.incident_key(incident_id), "lat").startswith("33.9769")


def test_a_stale_incident_nobody_closed_is_closed_then_thinned_and_deleted(rt, r, settings):
    incident_id = _incident(r, settings)
    quiet = settings.incident_ttl_min * 60 + 1
    assert retention.purge(rt, T0 + quiet)["closed"] == 1
    assert r.hget(store.incident_key(incident_id), "status") == "closed"
    assert retention.purge(rt, T0 + quiet + settings.retention_detail_h * 3600)["thinned"] == 1
    assert retention.purge(rt, T0 + quiet + settings.retention_days * 86400)["deleted"] == 1
    assert not r.exists(store.incident_key(incident_id))


def test_thinning_empties_the_timeline_of_who_where_and_words(rt, r, settings):
    incident_id = _incident(r, settings)
    incidents.add_event(r, incident_id, "observer_clear", T0 + 30, observer="o1", note="2 trucks at 1234 Main St")
    incidents.set_status(r, incident_id, "closed", T0 + 60, "clear")
    before = incidents.get(r, incident_id)["reporters"]
    retention.purge(rt, T0 + 60 + 25 * 3600)
    timeline = json.dumps(r.xrange(store.incident_timeline_key(incident_id)))
    for leaked in ("c1", "33.9769", "-118.2161", "7ABC123", "Main St", "2 trucks"):
        assert leaked not in timeline, leaked
    assert [e["event"] for e in incidents.timeline(r, incident_id)][:2] == ["created", "report"]
    assert incidents.get(r, incident_id)["reporters"] == before, "the count outlives the ids"


def test_delete_takes_the_id_out_of_open_incidents_and_keeps_the_count(rt, r, settings, phone):
    from bot import privacy

    cid = privacy.contact_id(settings.secret, "+13235550123")
    incident_id = _incident(r, settings, contact=cid)
    assert phone.text("BORRAR", from_="+13235550123")
    assert not r.sismember(store.incident_reporters_key(incident_id), cid)
    assert cid not in json.dumps(r.xrange(store.incident_timeline_key(incident_id)))
    assert incidents.get(r, incident_id)["reporters"] == 1


def test_purge_command_prints_what_it_did(runner, r):
    from bot.cli import purge_command

    result = runner.invoke(purge_command)
    assert result.exit_code == 0 and json.loads(result.output) == {"closed": 0, "thinned": 0, "deleted": 0}


def test_delete_reads_only_the_contacts_own_incidents(rt, r, settings):
    """The flood drill: a script texting DELETE before every report made each DELETE read every open incident
    (one SREM round trip each: 100 ms at 1,000 open). Now it touches the contact's own incidents only."""
    from bot import contacts

    for n in range(300):
        _incident(r, settings, contact=f"other-{n}", lat=33.0 + n * 0.01)
    mine = _incident(r, settings, contact="me", lat=36.0)
    before = int(r.info("commandstats").get("cmdstat_srem", {}).get("calls", 0))
    assert contacts.forget_in_open_incidents(r, "me") == 1
    assert int(r.info("commandstats")["cmdstat_srem"]["calls"]) - before == 1, "one SREM, not one per open incident"
    assert not r.sismember(store.incident_reporters_key(mine), "me")
    assert not r.exists(store.contact_incidents_key("me")), "the index goes with the contact"


def test_delete_finds_an_incident_a_coordinator_merged_their_report_into(rt, r, settings):
    from bot import contacts
    from bot.dispatch import lifecycle

    theirs = _incident(r, settings, contact="me", lat=34.5)
    into = _incident(r, settings, contact="other", lat=34.9)
    lifecycle.merge(rt, theirs, into, "maria", T0 + 10)
    assert r.sismember(store.incident_reporters_key(into), "me")
    contacts.forget_in_open_incidents(r, "me")
    assert not r.sismember(store.incident_reporters_key(into), "me")


def test_delete_still_finds_open_incidents_from_before_the_index(rt, r, settings):
    """An upgrade: incidents opened before the index have reporters nobody indexed; they are searched too."""
    from bot import contacts

    old = _incident(r, settings, contact="me", lat=34.5)
    r.delete(store.contact_incidents_key("me"))  # as if reported before the index existed
    r.set(store.contact_index_from_key(), str(int(old) + 1))
    assert contacts.forget_in_open_incidents(r, "me") == 1
    assert not r.sismember(store.incident_reporters_key(old), "me")
    incidents.set_status(r, old, "closed", T0 + 60, "clear")
    contacts.forget_in_open_incidents(r, "nobody")
    assert r.get(store.contact_index_from_key()) == "0", "no open incident predates the index: no more searching"


def test_no_timeline_event_names_a_reporter_so_delete_rewrites_nothing(rt, r, settings):
    """A flood script's DELETE before every report rewrote the timeline of each incident the contact was
    in (an XRANGE and every entry written again); timelines no longer hold who reported."""
    from bot import contacts

    incident_id = _incident(r, settings, contact="me")
    _incident(r, settings, contact="you")  # joins the same scene
    assert "me" not in json.dumps(r.xrange(store.incident_timeline_key(incident_id)))
    before = r.info("commandstats")
    assert contacts.forget_in_open_incidents(r, "me") == 1
    after = r.info("commandstats")
    for command in ("cmdstat_xrange", "cmdstat_xadd", "cmdstat_rename"):
        assert after.get(command, {}).get("calls", 0) == before.get(command, {}).get("calls", 0), command
    assert incidents.get(r, incident_id)["reporters"] == 2, "the count stays"


def test_delete_still_rewrites_a_timeline_written_before_reporters_left_it(rt, r, settings):
    """An upgrade: an open incident whose timeline named its reporters loses the id from it."""
    from bot import contacts

    incident_id = _incident(r, settings, contact="me")
    r.hdel(store.incident_key(incident_id), "anonymous_timeline")
    incidents.add_event(r, incident_id, "report", T0 + 5, reporter="me", channel="sms")
    assert contacts.forget_in_open_incidents(r, "me") == 1
    timeline = incidents.timeline(r, incident_id)
    assert "me" not in json.dumps(r.xrange(store.incident_timeline_key(incident_id)))
    assert [e["event"] for e in timeline][-1] == "report", "the event stays, without who"


def test_delete_keeps_a_block_and_forgets_the_rest_in_one_step(rt, r, settings, phone):
    from bot import privacy

    cid = privacy.contact_id(settings.secret, "+13235550123")
    incident_id = _incident(r, settings, contact=cid)
    r.hset(store.contact_key(cid), mapping={"trust": "blocked", "lang": "es"})
    phone.text("hola", from_="+13235550123")
    assert phone.text("BORRAR", from_="+13235550123")
    assert r.hgetall(store.contact_key(cid)) == {"trust": "blocked"}, "the block survives, the language goes"
    assert not r.exists(store.session_key(cid), store.reply_to_key(cid), store.contact_incidents_key(cid))
    assert not r.sismember(store.incident_reporters_key(incident_id), cid)


def test_thinning_takes_the_incident_out_of_its_reporters_index(rt, r, settings):
    incident_id = _incident(r, settings, contact="me")
    assert r.sismember(store.contact_incidents_key("me"), incident_id)
    incidents.set_status(r, incident_id, "closed", T0 + 60, "clear")
    retention.purge(rt, T0 + 60 + 25 * 3600)
    assert not r.exists(store.contact_incidents_key("me")), "nothing of the contact outlives the incident's reporters"
