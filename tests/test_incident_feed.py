"""The incidents' change feed (bot/incidents/feed.py) against the real Redis."""

from __future__ import annotations

import redis

from bot import incidents, store
from bot.config import Settings
from bot.incidents import Report, feed

T0 = 1_780_000_000.0
HP = (33.98166, -118.22505)


def _report(contact="c1", details=None):
    return Report(contact, *HP, 30, "raid", details or {"agents": 3, "markings": "vans"}, "en", "sms")


def _kinds(r, cursor="0-0"):
    changes, _ = feed.read(r, cursor)
    return [(c.incident_id, c.kind) for c in changes]


def test_every_incident_change_lands_on_the_feed_in_order(r):
    cfg = Settings(dedupe_radius_m=400, dedupe_window_min=30, incident_ttl_min=240)
    first = incidents.merge_report(r, _report("c1"), cfg, T0)
    incidents.merge_report(r, _report("c2"), cfg, T0 + 1)  # joins and corroborates
    incidents.add_event(r, first.incident_id, "dispatch_accepted", T0 + 2, observer="o1")
    incidents.set_status(r, first.incident_id, "closed", T0 + 3, "observer reported clear")
    assert _kinds(r) == [
        (first.incident_id, "created"),
        (first.incident_id, "report"),
        (first.incident_id, "dispatch_accepted"),
        (first.incident_id, "status"),
    ]


def test_feed_entries_carry_no_words_numbers_or_places(r):
    cfg = Settings()
    merge = incidents.merge_report(r, _report(details={"markings": "plate 7ABC123, call +13235550100"}), cfg, T0)
    incidents.add_event(r, merge.incident_id, "note", T0 + 1, text="caller at +13235550100")
    for _, fields in r.xrange(store.incident_feed_key()):
        assert set(fields) == {"id", "kind"}
        assert fields["id"] == merge.incident_id


def test_reader_gets_only_what_came_after_its_cursor(r):
    cfg = Settings()
    merge = incidents.merge_report(r, _report(), cfg, T0)
    cursor = feed.head(r)
    assert feed.read(r, cursor) == ([], False)
    incidents.set_status(r, merge.incident_id, "verified", T0 + 5, "coordinator")
    changes, behind = feed.read(r, cursor)
    assert [(c.incident_id, c.kind) for c in changes] == [(merge.incident_id, "status")] and not behind
    assert changes[0].cursor == feed.head(r)


def test_a_refused_change_or_a_missing_incident_adds_nothing(r):
    cfg = Settings()
    merge = incidents.merge_report(r, _report(), cfg, T0)
    incidents.set_status(r, merge.incident_id, "closed", T0 + 1, "done")
    cursor = feed.head(r)
    for attempt in (
        lambda: incidents.set_status(r, merge.incident_id, "verified", T0 + 2, "late"),
        lambda: incidents.add_event(r, "999999", "note", T0 + 2),
    ):
        try:
            attempt()
        except Exception:  # noqa: BLE001 - both refuse; what matters is the feed
            pass
    assert feed.read(r, cursor) == ([], False)


def test_a_reader_older_than_the_kept_feed_is_told_it_is_behind(r):
    cfg = Settings()
    merge = incidents.merge_report(r, _report(), cfg, T0)
    old = feed.head(r)
    incidents.add_event(r, merge.incident_id, "note", T0 + 1)
    incidents.add_event(r, merge.incident_id, "dispatch_wave", T0 + 2)
    r.xtrim(store.incident_feed_key(), maxlen=1, approximate=False)  # what the cap does after hours of changes
    changes, behind = feed.read(r, old)
    assert behind and [c.kind for c in changes] == ["dispatch_wave"]  # the note was trimmed away
    assert feed.valid_cursor(old) and not feed.valid_cursor("$") and not feed.valid_cursor("1-2; DROP")


class CountingConnection(redis.Connection):
    """Counts writes to the socket: one per command, one per pipeline (= round trips)."""

    trips = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.trips += 1
        return super().send_packed_command(command, check_health)


def test_merging_a_report_is_still_one_round_trip_with_the_feed(r, redis_server):
    pool = redis.ConnectionPool.from_url(redis_server, decode_responses=True, connection_class=CountingConnection)
    counted = redis.Redis(connection_pool=pool)
    cfg = Settings()
    incidents.merge_report(counted, _report("warm"), cfg, T0)  # loads the script once per process
    before = CountingConnection.trips
    incidents.merge_report(counted, _report("c2"), cfg, T0 + 1)
    assert CountingConnection.trips - before == 1
    assert [c.kind for c in feed.read(r, "0-0")[0]][-1] == "report"
