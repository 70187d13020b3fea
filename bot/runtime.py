"""One process's wired objects: settings, Redis clients, RQ queues, the Twilio client.

Web, worker, CLI and tests all build these the same way from a `Settings`
(courier's `runtime/`), so a domain function only ever receives what it needs.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import redis
from rq import Queue

from . import geo, store
from .config import Settings
from .privacy import install_log_redaction

log = logging.getLogger(__name__)

QUEUE_NAMES = ("dispatch", "default", "dispatch_later", "broadcast")
"""RQ queues in the priority a worker serves them: dispatch texts never wait for a broadcast."""

_current: Runtime | None = None
_lock = threading.Lock()


@dataclass
class Runtime:
    """The clients one process shares; built once by `configure`, connected on first use."""

    settings: Settings
    redis_url: str | None = None

    def __post_init__(self) -> None:
        self.redis_url = self.redis_url or self.settings.redis_url

    @cached_property
    def url(self) -> str:
        """The Redis URL in use: REDIS_URL, or the shared embedded server started on first need."""
        if not self.redis_url:
            self.redis_url = _shared_embedded(self.settings.data_dir)
        return self.redis_url

    @cached_property
    def r(self) -> redis.Redis:
        """Redis answering str, for the hotline's own keys."""
        return store.connect(self.url)

    @cached_property
    def r_raw(self) -> redis.Redis:
        """Redis answering bytes, as RQ needs."""
        return store.connect_raw(self.url)

    @cached_property
    def queues(self) -> dict[str, Queue]:
        return {name: Queue(name, connection=self.r_raw) for name in QUEUE_NAMES}

    def queue(self, name: str) -> Queue:
        return self.queues[name]

    @cached_property
    def twilio(self):
        """The process's one twilio Client (built lazily: the webhook never needs it)."""
        from .channels import twilio as twilio_channel

        return twilio_channel.make_client(self.settings)


def _shared_embedded(data_dir: str) -> str:
    """Start, or attach to, the embedded Redis for a data dir (web and worker share one)."""
    folder = Path(data_dir).resolve() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "port"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes starting at once must not start two servers
        port = None
        if port_file.exists():
            port = int(port_file.read_text().strip())
            url = f"redis://127.0.0.1:{port}/0"
            if store.ping(store.connect(url)):
                return url
        try:  # the same port again, so every client already connected to it reconnects by itself
            server = store.start_embedded(data_dir, port=port, detach=True)
        except RuntimeError:  # the old port is taken by something else now
            server = store.start_embedded(data_dir, detach=True)
        port_file.write_text(str(server.port))
        log.warning("started embedded redis-server on port %s (data in %s)", server.port, folder)
        return server.url


def supervise_embedded(rt: Runtime) -> bool:
    """Restart the embedded Redis if this runtime uses it and it died; True if it was restarted.

    Without REDIS_URL the server is ours to keep alive: a worker's heartbeat and
    each web process's spool thread call this when Redis stops answering. It comes
    back on the same port with the same append-only file, so nothing acknowledged
    is lost and no client needs a new URL.
    """
    if rt.settings.redis_url or "url" not in rt.__dict__ or store.ping(rt.r):
        return False
    try:
        url = _shared_embedded(rt.settings.data_dir)
    except (OSError, RuntimeError) as exc:
        log.error("could not restart the embedded redis-server", exc_info=exc)
        return False
    if url != rt.url:
        log.error("embedded redis-server came back on another port; restart this process to use it")
    return True


def configure(settings: Settings, redis_url: str | None = None) -> Runtime:
    """Build this process's Runtime from settings and make it current."""
    global _current
    install_log_redaction()
    geo.osm_index.use(Path(settings.data_dir) / geo.osm_index.INDEX_FILE)  # `hotline places import` writes it
    with _lock:
        _current = Runtime(settings=settings, redis_url=redis_url)
    return _current


def is_current(rt: Runtime) -> bool:
    """Tell whether rt is still this process's Runtime (background threads end when it is replaced)."""
    return _current is rt


def get() -> Runtime:
    """Return the current Runtime, configuring from the environment on first use (RQ jobs)."""
    if _current is None:
        return configure(Settings.from_env())
    return _current
