"""`/healthz` tells the truth: status only for the public, details behind a token, and unhealthy on data loss."""

from __future__ import annotations

import shutil

from conftest import HEALTH_TOKEN

from bot import create_app, observers, store

OPERATOR = {"X-Health-Token": HEALTH_TOKEN}


def _app(settings, url: str):
    app = create_app(settings.replace(redis_url=url))
    app.config["TESTING"] = True
    return app


def _problems(client) -> list[str]:
    return client.get("/healthz", headers=OPERATOR).get_json()["problems"]


def test_the_public_gets_status_only_and_operators_the_details(client):
    public = client.get("/healthz")
    assert set(public.get_json()) == {"ok"}
    assert set(client.get("/healthz", headers={"X-Health-Token": "guess"}).get_json()) == {"ok"}
    detailed = client.get("/healthz", headers=OPERATOR).get_json()
    assert detailed["redis"] is True
    assert set(detailed["queues"]) == {"dispatch", "default", "dispatch_later", "broadcast"}
    assert detailed["twilio_deletions_waiting"] == 0
    assert client.get(f"/healthz?token={HEALTH_TOKEN}").get_json()["redis"] is True
    assert public.status_code == client.get("/healthz", headers=OPERATOR).status_code


def test_health_reports_redis_down_as_503(settings, blip_redis):
    app = _app(settings, blip_redis.url)
    blip_redis.stop()
    response = app.test_client().get("/healthz", headers=OPERATOR)
    assert response.status_code == 503
    assert response.get_json()["redis"] is False


def test_redis_restarted_without_its_data_is_unhealthy_until_the_roster_is_imported_again(
    settings, blip_redis, tmp_path
):
    app = _app(settings, blip_redis.url)
    client = app.test_client()
    assert "redis came back empty: roster, opt-outs and blocks are gone" not in _problems(client)
    blip_redis.stop()
    for aof in (blip_redis.folder / "redis").glob("appendonly*"):  # a Redis without persistence loses it all
        shutil.rmtree(aof) if aof.is_dir() else aof.unlink()
    blip_redis.start()
    response = client.get("/healthz", headers=OPERATOR)
    assert response.status_code == 503
    assert "redis came back empty: roster, opt-outs and blocks are gone" in response.get_json()["problems"]

    roster = tmp_path / "roster.csv"
    roster.write_text("name,phone,languages,location,radius_km,on_call\nAna,+12135550300,en,33.98;-118.22,10,yes\n")
    assert observers.import_csv(app.extensions["hotline"].r, app.extensions["hotline"].settings, roster).imported
    assert "redis came back empty: roster, opt-outs and blocks are gone" not in _problems(client)


def test_memory_near_maxmemory_and_an_evicting_policy_are_unhealthy(settings, blip_redis):
    app = _app(settings, blip_redis.url)
    client = app.test_client()
    admin = store.connect(blip_redis.url)
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", str(int(used * 1.05)))
    assert "redis memory near maxmemory" in _problems(client)
    admin.config_set("maxmemory", str(used * 100))
    admin.config_set("maxmemory-policy", "allkeys-lru")
    assert any("may evict" in p for p in _problems(client))
    admin.config_set("maxmemory-policy", "noeviction")
    assert not any("memory" in p or "evict" in p for p in _problems(client))
    admin.config_set("maxmemory", "0")
    admin.close()


def test_failed_dispatch_jobs_are_unhealthy(client, rt, worker):
    assert "dispatch jobs failing" not in _problems(client)
    rt.queue("dispatch").enqueue("bot.store.marker_key", "an argument it does not take")
    worker()
    assert "dispatch jobs failing" in _problems(client)


def test_operators_see_the_deletions_at_twilio_not_yet_handed_to_rq(client, phone):
    phone.text("hello")
    assert client.get("/healthz", headers=OPERATOR).get_json()["twilio_deletions_waiting"] == 1
