"""The web chat's per-client flood cap: one browser minting chat ids is still one client.

A chat id costs nothing (drop the cookie, reload): each new chat is a new
contact with fresh per-contact caps. So the web chats of one client — the
keyed hash of its address the rate limits already count (`guard.client_key`) —
share caps of their own (`HOTLINE_CAP_CLIENT_10MIN`/`_HOUR`, docs/abuse.md).
Everything goes through the real chat endpoint; each "browser" is a fresh
cookie jar with a client address of its own.
"""

from __future__ import annotations

import pytest
from test_webchat import WebChat, _everything_stored

from bot import create_app, guard, incidents, reports, store
from bot.conversation import ActionCall
from bot.dispatch import board

FLOODER, NEIGHBOUR = "10.1.2.3", "10.7.7.7"
PROXY = "127.0.0.1"
T0 = 1_800_000_000.0


@pytest.fixture
def settings(settings):
    # the web's shared hour small enough that a flood's held reports would fill it if they counted there
    return settings.replace(cap_web_hour=8)


def _scene(n: int) -> dict:
    """A pin `n` km north of Huntington Park: each its own scene (far beyond the merge radius)."""
    return {"lat": round(33.95 + n * 0.01, 5), "lon": -118.2}


def _report(client, n: int, headers: dict | None = None) -> str:
    """A fresh browser (new cookie, so a new chat id) reporting scene `n`; the incident id it opened."""
    before = {i["id"] for i in incidents.list_open(client.application.extensions["hotline"].r)}
    chat = WebChat(client)
    response = chat.post({"id": chat.next_id(), "text": "migra aquí ahora", **_scene(n)}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["replies"][0].startswith("Reporte "), "the same calm reply, held or not"
    rt = client.application.extensions["hotline"]
    (new,) = {i["id"] for i in incidents.list_open(rt.r)} - before
    return new


def _browser(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _fresh_browsers(app, address: str):
    """A script that drops its cookie before every report: a new test client (cookie jar) each time."""
    while True:
        yield _browser(app, address)


def _dispatched(rt, incident_id: str) -> bool:
    return bool(rt.r.exists(store.incident_plan_key(incident_id)))


def _client_key(app, address: str) -> str:
    with app.test_request_context(environ_base={"REMOTE_ADDR": address}):
        return guard.client_key()


def test_one_client_minting_chat_ids_is_capped_and_another_client_is_not(app, rt, r, settings, redis_server):
    n = settings.cap_client_10min
    assert n == 3 and settings.cap_client_hour == 6, "the defaults docs/abuse.md reasons"
    browsers = _fresh_browsers(app, FLOODER)
    flood = [_report(next(browsers), scene) for scene in range(10)]
    contacts = {incidents.get(r, i)["reporters"] for i in flood}
    assert contacts == {1} and len(flood) == 10, "ten chats, ten incidents"

    held = [bool(incidents.get(r, i)["held"]) for i in flood]
    assert held == [False] * n + [True] * (10 - n), "only the first N of one client are dispatched"
    assert [_dispatched(rt, i) for i in flood] == [not h for h in held]
    rows = {row["id"]: row for row in board.board(rt, 0)}
    for incident_id in flood[n:]:
        assert "held" in rows[incident_id]["reasons"] and rows[incident_id]["needs_action"], "kept and shown"

    # another client (and its own chats) is not held by the first one's flood, nor by the web's shared hour:
    # the flood's held reports count against the scopes that held them, not against everybody's
    others = _fresh_browsers(app, NEIGHBOUR)
    neighbour = [_report(next(others), scene) for scene in range(20, 23)]
    assert [bool(incidents.get(r, i)["held"]) for i in neighbour] == [False, False, False]
    assert all(_dispatched(rt, i) for i in neighbour)

    # the client is counted by the keyed hash the rate limits use, and no address is stored in clear
    flooder_key = store.caps_key("client:" + _client_key(app, FLOODER))
    assert r.zcard(flooder_key) > settings.cap_client_hour and r.ttl(flooder_key) > 0  # trimmed past the cap
    everything = _everything_stored(redis_server)
    for address in (FLOODER, NEIGHBOUR):
        assert address.encode() not in everything, f"{address} is stored in clear"


def test_the_hour_cap_of_one_client_holds_a_slow_flood(rt, r, settings):
    """New chats of one client every 4 minutes stay under the 10-minute cap: the hour's cap holds the seventh."""
    client = "c0ffee" * 3
    held = []
    for n in range(8):
        call = ActionCall(
            name="report.submit",
            contact_id=f"chat{n}",
            e164="",
            answers={"activity": "raid", "where": {**_scene(n), "precision_m": 20, "label": f"scene {n}"}},
            language="en",
            channel="web",
            now=T0 + n * 240,
            client=client,
        )
        held.append(bool(incidents.get(r, reports.submit(rt, call)["incident_id"])["held"]))
    assert held == [False] * settings.cap_client_hour + [True] * 2, held


def test_a_held_report_of_a_client_is_not_released_by_its_own_next_chat(app, r, settings):
    """A flooder's fresh chat at the same scene is the same client over its cap: it does not release the held one."""
    browsers = _fresh_browsers(app, FLOODER)
    flood = [_report(next(browsers), scene) for scene in range(settings.cap_client_10min + 1)]
    assert incidents.get(r, flood[-1])["held"]
    chat = WebChat(next(browsers))
    chat.post({"id": chat.next_id(), "text": "migra aquí ahora", **_scene(settings.cap_client_10min)})
    assert incidents.get(r, flood[-1])["held"], "a new chat of the same client cannot release its own flood"
    other = WebChat(_browser(app, NEIGHBOUR))
    other.post({"id": other.next_id(), "text": "migra aquí ahora", **_scene(settings.cap_client_10min)})
    assert not incidents.get(r, flood[-1])["held"], "another client at the scene releases it, as anyone does"


def test_without_a_proxy_a_forged_forwarded_for_does_not_make_a_new_client(app, r, settings):
    """HOTLINE_PROXY_HOPS=0 (the default): X-Forwarded-For is the client's own words, and is ignored."""
    browsers = _fresh_browsers(app, FLOODER)
    flood = [_report(next(browsers), scene, headers={"X-Forwarded-For": f"192.0.2.{scene}"}) for scene in range(5)]
    assert [bool(incidents.get(r, i)["held"]) for i in flood] == [False] * 3 + [True] * 2


def test_behind_a_proxy_each_client_is_its_forwarded_address(settings, r, twilio_outbox, redis_server):
    """HOTLINE_PROXY_HOPS=1: the proxy's address is every visitor's; the client is the one it appended."""
    app = create_app(settings.replace(proxy_hops=1))
    app.config["TESTING"] = True
    behind = _fresh_browsers(app, PROXY)

    def through_proxy(client: str, forged: str = "") -> dict:
        return {"X-Forwarded-For": f"{forged}, {client}" if forged else client}  # the proxy appends the client

    flood = [_report(next(behind), scene, through_proxy(FLOODER, forged=f"192.0.2.{scene}")) for scene in range(5)]
    assert [bool(incidents.get(r, i)["held"]) for i in flood] == [False] * 3 + [True] * 2, "forged hops ignored"
    neighbour = [_report(next(behind), scene, through_proxy(NEIGHBOUR)) for scene in range(20, 23)]
    assert not any(incidents.get(r, i)["held"] for i in neighbour), "not every visitor is the proxy"

    # the cap and the rate limits agree on who the client is: the forwarded address, by the same keyed hash
    forwarded = _client_key(app, FLOODER)
    assert r.zcard(store.caps_key("client:" + forwarded)) == 5, "counted under the forwarded address"
    limiter_keys = [k for k in r.scan_iter(f"*{store.login_limit_prefix()}/*")]
    assert any(forwarded in k for k in limiter_keys), limiter_keys
    everything = _everything_stored(redis_server)
    assert FLOODER.encode() not in everything and NEIGHBOUR.encode() not in everything


def test_the_client_scope_rides_in_the_merges_one_round_trip(r, settings, redis_server):
    """No extra round trip on the hot path: the client's caps are checked and counted in the merge's MULTI."""
    import redis as redis_lib
    from test_conversation import CountingConnection

    pool = redis_lib.ConnectionPool.from_url(redis_server, decode_responses=True, connection_class=CountingConnection)
    counted = redis_lib.Redis(connection_pool=pool)
    counted.ping()  # the connection is open from here on

    def merge(n: int, client: str) -> incidents.Merge:
        report = incidents.Report(f"chat{n}", *_scene(n).values(), 20, "raid", channel="web", client=client)
        before = CountingConnection.trips
        merged = incidents.merge_report(counted, report, settings, T0 + n)
        assert CountingConnection.trips - before == 1, "one MULTI: flood_cap.lua and incident_merge.lua"
        return merged

    held = [merge(n, "c1" * 10).held for n in range(settings.cap_client_10min + 1)]
    assert held == [False] * settings.cap_client_10min + [True]
    assert not merge(9, "c2" * 10).held
    pool.disconnect()
