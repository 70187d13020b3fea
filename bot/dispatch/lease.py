"""The fan-out lease: one worker at a time drives an incident, and a dead one's lease lapses in seconds.

A `SET NX PX` lock with a random token, renewed by a keeper thread while the
worker lives and released only by its holder (compare-and-delete in Lua), so a
SIGKILLed worker's wave is taken over about `LEASE_S` after it died.
"""

from __future__ import annotations

import secrets
import threading
import time

import redis

from .. import lua, store

LEASE_S = 2.0
"""Lease on an incident's fan-out, renewed by a keeper thread every third of it while the
worker lives: a SIGKILLed worker's wave is taken over about this long after it died."""


class _LeaseKeeper(threading.Thread):
    """Renew a fan-out lease (and the incident's due time) while this worker is alive.

    A thread, not a renewal before each send: one send can block for a whole
    HTTP timeout, and the lease must lapse within seconds only if the process died.
    """

    def __init__(self, r, lock: str, token: str, incident_id: str):
        super().__init__(daemon=True, name=f"lease-{incident_id}")
        self.r, self.lock, self.token, self.incident_id = r, lock, token, incident_id
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(LEASE_S / 3):
            try:
                if not lua.run(self.r, "lease_renew", [self.lock], token=self.token, ms=int(LEASE_S * 1000)):
                    return  # lost the lease (Redis restarted?): the sends' records still guard
                self.r.zadd(store.dispatch_due_key(), {self.incident_id: time.time() + LEASE_S}, xx=True)
            except redis.RedisError:  # the drive itself will fail and be retried; nothing to add
                return


class Lease:
    """`with Lease(r, incident_id) as held:` — held is False when another worker drives it now."""

    def __init__(self, r, incident_id: str):
        self.r, self.incident_id = r, incident_id
        self.lock = store.incident_drive_lock_key(incident_id)
        self.token = secrets.token_hex(8)
        self.keeper: _LeaseKeeper | None = None

    def __enter__(self) -> bool:
        if not self.r.set(self.lock, self.token, nx=True, px=int(LEASE_S * 1000)):
            return False
        self.keeper = _LeaseKeeper(self.r, self.lock, self.token, self.incident_id)
        self.keeper.start()
        return True

    def __exit__(self, *exc) -> None:
        if self.keeper is not None:
            self.keeper.done.set()
            lua.run(self.r, "lease_release", [self.lock], token=self.token)


def held(r, incident_id: str) -> bool:
    """Tell whether a live worker holds an incident's fan-out lease right now."""
    return bool(r.exists(store.incident_drive_lock_key(incident_id)))
