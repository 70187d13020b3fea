"""Keeping an inbound message safe while Redis is unreachable, and handing it back for replay.

"A Redis outage must not drop a report": the webhook seals the message (number
and text encrypted with HOTLINE_SECRET) and appends it to this process's own file
under the spool folder, fsynced before the texter is told it was received. The
router's replay thread takes every file (this machine's, or every machine's when
HOTLINE_SPOOL_DIR is a shared folder) as soon as Redis answers, and replays the
messages in the order they arrived.

One line per message: `<received_at> <contact_id> <sealed record>`. The time and
the HMAC contact id are in clear so health can tell the spool's age and the
router can keep a contact's live texts behind their spooled ones without
unsealing anything; a line that cannot be read (a torn write) is moved to
`corrupt.log` and the rest of its file is still replayed.

Claiming: one process at a time replays a folder (an exclusive `flock` on
`replay.lock`, so two replayers cannot reorder one contact's texts); it renames
each file to `*.replaying` and holds a `flock` on it while replaying; an appender that opened the
file before the rename sees the inode change once it holds the lock and writes
to a fresh file instead. A replayer that dies releases its lock with its
process, and the next one takes the orphaned `*.replaying` file over.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import store
from .channels import Inbound, Media
from .privacy import seal_bytes, unseal_bytes

log = logging.getLogger(__name__)

OUTAGE_ERRORS = store.OUTAGE_ERRORS
"""What spools a message instead of refusing it (defined with the connections, in `store`)."""

STALE_AFTER_S = 60.0
"""A message waiting longer than this means replay is stuck: health turns unhealthy."""

CORRUPT = "corrupt.log"
"""Lines no replay could read, kept (still sealed) for an operator; never replayed."""


def folder(settings) -> Path:
    """The spool folder: HOTLINE_SPOOL_DIR, else HOTLINE_DATA_DIR/spool."""
    return Path(settings.spool_dir or Path(settings.data_dir) / "spool")


def path(settings) -> Path:
    """This process's own spool file (one writer per file keeps appends simple on a shared folder)."""
    return folder(settings) / f"inbound.{socket.gethostname()}.{os.getpid()}.log"


def files(settings) -> list[Path]:
    """Every spool file waiting or being replayed, on this machine or (shared folder) any machine.

    One directory read: the webhook calls this on every message.
    """
    base = folder(settings)
    try:
        with os.scandir(base) as entries:
            names = [e.name for e in entries if e.name.endswith((".log", ".replaying")) and e.name != CORRUPT]
    except FileNotFoundError:
        return []
    return [base / name for name in sorted(names)]


def _lines(p: Path) -> list[bytes]:
    try:
        return [line for line in p.read_bytes().splitlines() if line.strip()]
    except FileNotFoundError:  # replayed and removed since it was listed
        return []


def status(settings, now: float) -> dict:
    """Spooled messages waiting, the age of the oldest, and kept corrupt lines (no Redis, nothing unsealed)."""
    pending, oldest = 0, None
    for p in files(settings):
        for line in _lines(p):
            pending += 1
            try:
                at = float(line.split(b" ", 1)[0])
            except ValueError:  # a torn line: it still waits, and counts as old as its file
                at = p.stat().st_mtime if p.exists() else now
            oldest = at if oldest is None else min(oldest, at)
    corrupt = folder(settings) / CORRUPT
    return {
        "pending": pending,
        "oldest_s": round(now - oldest, 1) if oldest is not None else 0.0,
        "corrupt": len(_lines(corrupt)) if corrupt.exists() else 0,
    }


def pending(settings) -> int:
    """Count spooled messages waiting for replay."""
    return status(settings, time.time())["pending"]


def contacts(settings) -> set[str]:
    """Contact ids with a spooled message: their live texts must queue behind it."""
    found = set()
    for p in files(settings):
        for line in _lines(p):
            parts = line.split(b" ", 2)
            if len(parts) == 3:
                found.add(parts[1].decode("ascii", "replace"))
    return found


def append(settings, inbound: Inbound, received_at: float, contact_id: str) -> None:
    """Durably append one sealed inbound message (fsynced, and its folder entry too) before returning."""
    base = folder(settings)
    base.mkdir(parents=True, exist_ok=True)
    record = {"inbound": asdict(inbound), "received_at": received_at}
    token = seal_bytes(settings.secret, json.dumps(record).encode())
    line = f"{received_at:.6f} {contact_id} ".encode() + token + b"\n"
    p = path(settings)
    while True:
        created = not p.exists()
        with open(p, "ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # a replayer renames under this lock; see the module doc
            try:
                same = os.fstat(fh.fileno()).st_ino == os.stat(p).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                continue  # claimed for replay while we waited: write to a fresh file
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            _fsync_dir(base)
        break
    log.warning("redis unavailable: spooled one inbound message for replay")


def _fsync_dir(base: Path) -> None:
    """Make a new file's name durable too (a file fsynced in an unsynced folder can vanish on a crash)."""
    fd = os.open(base, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Item:
    """One spooled message, read back."""

    inbound: Inbound
    received_at: float
    contact_id: str
    raw: bytes


@dataclass
class Claim:
    """Spool files held (flocked) by this replayer, their messages in arrival order, and what became of them."""

    handles: list = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    corrupt: list[bytes] = field(default_factory=list)
    done: int = 0
    lock: object = None

    def finish(self, settings) -> None:
        """Keep corrupt lines, put back what was not replayed, then release the files."""
        base = folder(settings)
        if self.corrupt:
            with open(base / CORRUPT, "ab") as fh:
                fh.write(b"".join(line + b"\n" for line in self.corrupt))
                fh.flush()
                os.fsync(fh.fileno())
        left = self.items[self.done :]
        if left:  # Redis failed again mid-replay: a fresh file, still ordered by arrival time
            back = base / f"inbound.{socket.gethostname()}.{os.getpid()}-{uuid.uuid4().hex[:8]}.log"
            with open(back, "ab") as fh:
                fh.write(b"".join(item.raw + b"\n" for item in left))
                fh.flush()
                os.fsync(fh.fileno())
        for p, fh in self.handles:
            p.unlink(missing_ok=True)
            fh.close()
        _fsync_dir(base)
        if self.lock is not None:
            self.lock.close()  # releases the folder's replay lock


REPLAY_LOCK = "replay.lock"
"""Held (flock) by the one process replaying this folder: two replayers at once could reorder a contact's texts."""


def claim(settings) -> Claim | None:
    """Take every spool file, unless another process is replaying this folder; None when there is nothing."""
    if not files(settings):
        return None
    lock = open(folder(settings) / REPLAY_LOCK, "ab")  # noqa: SIM115 -- held until Claim.finish
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another web process, the worker, or another machine is replaying
        lock.close()
        return None
    held = []
    for p in files(settings):
        if p.suffix != ".replaying":
            target = p.with_name(f"{p.name}.{uuid.uuid4().hex[:8]}.replaying")
            try:
                os.rename(p, target)
            except FileNotFoundError:  # another replayer took it first
                continue
            p = target
        try:
            fh = open(p, "rb")  # noqa: SIM115 -- held (locked) until Claim.finish
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live replayer: not ours
        except BlockingIOError:
            fh.close()
            continue
        if not p.exists():  # finished and removed by its replayer just before we locked it
            fh.close()
            continue
        held.append((p, fh))
    if not held:
        lock.close()
        return None
    result = Claim(handles=held, lock=lock)
    for _, fh in held:
        # An appender that opened the file before the rename holds its lock while it writes;
        # our lock was granted after, so every line it wrote is here.
        fh.seek(0)
        for line in fh.read().splitlines():
            if not line.strip():
                continue
            item = _read(settings, line)
            if item is None:
                result.corrupt.append(line)
            else:
                result.items.append(item)
    result.items.sort(key=lambda item: item.received_at)  # stable: one file's order is kept on a tie
    if result.corrupt:
        log.error("spool: %d unreadable line(s) kept in %s", len(result.corrupt), CORRUPT)
    return result


def _read(settings, line: bytes) -> Item | None:
    try:
        parts = line.split(b" ", 2)
        token = parts[-1]  # a line of a spool written before the time and id prefix is the token alone
        contact_id = parts[1] if len(parts) == 3 else b""
        record = json.loads(unseal_bytes(settings.secret, token))
        data = record["inbound"]
        data["media"] = tuple(Media(**m) for m in data.get("media", ()))
        if "e164" in data:  # spooled before `Inbound.e164` became `Inbound.address`
            data["address"] = data.pop("e164")
        return Item(Inbound(**data), float(record["received_at"]), contact_id.decode("ascii"), line)
    except Exception:  # noqa: BLE001 -- torn write, wrong key, old format: keep the line, replay the rest
        return None
