"""Keeping an inbound message safe while Redis is unreachable, and replaying it later.

"A Redis outage must not drop a report": the webhook seals the message
(number and text encrypted with HOTLINE_SECRET) and appends it to a local file;
the worker replays the spool once Redis answers again, texting the replies.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import redis

from .channels import Inbound, Media
from .privacy import seal_bytes, unseal_bytes

log = logging.getLogger(__name__)

OUTAGE_ERRORS = (
    redis.ConnectionError,  # down, restarting, loading its data (BusyLoadingError)
    redis.TimeoutError,
    redis.exceptions.OutOfMemoryError,  # maxmemory reached under noeviction: writes refused
    redis.exceptions.ReadOnlyError,  # a demoted primary during a Sentinel failover
    redis.exceptions.MasterDownError,  # a replica that lost its primary
)
"""Redis answers that mean "not now" rather than "never": the message is spooled, not refused."""


def path(settings) -> Path:
    return Path(settings.data_dir) / "spool" / "inbound.log"


def pending(settings) -> int:
    """Count spooled messages waiting for replay (a stat + line count; no Redis)."""
    p = path(settings)
    if not p.exists():
        return 0
    with open(p, "rb") as fh:
        return sum(1 for _ in fh)


def append(settings, inbound: Inbound, received_at: float) -> None:
    """Durably append one sealed inbound message."""
    p = path(settings)
    p.parent.mkdir(parents=True, exist_ok=True)
    record = {"inbound": asdict(inbound), "received_at": received_at}
    token = seal_bytes(settings.secret, json.dumps(record).encode())
    with open(p, "ab") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # several web workers may spool at once
        fh.write(token + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    log.warning("redis unreachable: spooled one inbound message for replay")


def take(settings) -> list[tuple[Inbound, float]]:
    """Atomically take every spooled message (the file is renamed away, then read)."""
    p = path(settings)
    if not p.exists():
        return []
    claimed = p.with_suffix(f".replaying.{os.getpid()}")
    try:
        os.rename(p, claimed)
    except FileNotFoundError:  # another process took it first
        return []
    items = []
    for line in claimed.read_bytes().splitlines():
        if not line.strip():
            continue
        record = json.loads(unseal_bytes(settings.secret, line))
        data = record["inbound"]
        data["media"] = tuple(Media(**m) for m in data.get("media", ()))
        if "e164" in data:  # spooled before `Inbound.e164` became `Inbound.address`
            data["address"] = data.pop("e164")
        items.append((Inbound(**data), record["received_at"]))
    claimed.unlink()
    return items
