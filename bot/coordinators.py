"""Coordinator accounts for the console: names, roles, password hashes, live sessions.

The console shows the network's most sensitive view (where raids are, who is
going), so every coordinator has their own login, created and revoked from the
command line (`hotline coordinators add|list|remove`). Passwords are hashed with
argon2id (argon2-cffi, its RFC 9106 defaults). Each login gets a random session
token kept in Redis with an expiry: the signed cookie alone is not enough, so
logging out or removing an account ends those sessions at once, on every device.
"""

from __future__ import annotations

import re
import secrets

import argon2

from . import privacy, store

ROLES = ("dispatcher", "admin")
"""`dispatcher` acts on incidents and the queue; `admin` also manages the roster."""

PERMISSIONS = {
    "dispatcher": {"incidents", "queue"},
    "admin": {"incidents", "queue", "roster"},
}
"""What each role may do in the console (accounts themselves are managed from the CLI only)."""

SESSION_TTL_S = 12 * 3600
"""A console login lasts one long shift; then the coordinator logs in again."""

MIN_PASSWORD = 10
"""Shortest password accepted: login attempts are rate limited, but a short password falls to a slow guesser."""

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")

_hasher = argon2.PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password")
"""Verified against when the name is unknown, so a wrong name takes as long as a wrong password."""


class AccountError(ValueError):
    """A bad name, role or password for an account."""


def normalize(name: str) -> str:
    """Fold a login name to its stored form (lower case: phone keyboards capitalise the first letter)."""
    return (name or "").strip().lower()


def add(r, name: str, password: str, role: str, now: float) -> str:
    """Create or replace an account (replacing one ends its sessions); return the stored name."""
    name = normalize(name)
    if not _NAME_RE.match(name):
        raise AccountError("a name is 1-40 letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    pipe = r.pipeline(transaction=True)
    pipe.hset(
        store.coordinator_key(name),
        mapping={"name": name, "role": role, "hash": _hasher.hash(password), "created_at": f"{now:.0f}"},
    )
    pipe.sadd(store.coordinators_key(), name)
    pipe.delete(store.coordinator_sessions_key(name))
    pipe.execute()
    return name


def get(r, name: str) -> dict | None:
    """Return an account (without its hash), or None."""
    data = r.hgetall(store.coordinator_key(normalize(name)))
    if not data:
        return None
    data.pop("hash", None)
    return data


def list_all(r) -> list[dict]:
    """Every account, by name, with its number of live sessions."""
    names = sorted(r.smembers(store.coordinators_key()))
    pipe = r.pipeline(transaction=False)
    for name in names:
        pipe.hmget(store.coordinator_key(name), "role", "created_at")
        pipe.zcard(store.coordinator_sessions_key(name))
    replies = pipe.execute()
    return [
        {"name": name, "role": replies[2 * i][0], "created_at": replies[2 * i][1], "sessions": replies[2 * i + 1]}
        for i, name in enumerate(names)
        if replies[2 * i][0]
    ]


def remove(r, name: str) -> bool:
    """Delete an account and end all its sessions; return False if there was none."""
    name = normalize(name)
    pipe = r.pipeline(transaction=True)
    pipe.delete(store.coordinator_key(name))
    pipe.delete(store.coordinator_sessions_key(name))
    pipe.srem(store.coordinators_key(), name)
    removed = pipe.execute()[0]
    return bool(removed)


def check_password(r, name: str, password: str) -> dict | None:
    """Return the account if the password is right, else None (same work whether or not the name exists)."""
    name = normalize(name)
    data = r.hgetall(store.coordinator_key(name)) if _NAME_RE.match(name) else {}
    try:
        _hasher.verify(data.get("hash") or _DUMMY_HASH, password or "")
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return None
    if not data:
        return None
    if _hasher.check_needs_rehash(data["hash"]):  # parameters raised since it was set: upgrade quietly
        r.hset(store.coordinator_key(name), "hash", _hasher.hash(password))
    data.pop("hash", None)
    return data


def start_session(r, name: str, now: float) -> str:
    """Open a console session for an account; return its token."""
    token = secrets.token_urlsafe(24)
    key = store.coordinator_sessions_key(normalize(name))
    pipe = r.pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now)  # forget expired sessions
    pipe.zadd(key, {token: now + SESSION_TTL_S})
    pipe.expire(key, SESSION_TTL_S)
    pipe.execute()
    return token


def session_account(r, name: str, token: str, now: float) -> dict | None:
    """Return the account a live session belongs to, or None when it ended, expired or the account is gone."""
    name = normalize(name)
    pipe = r.pipeline(transaction=False)
    pipe.hmget(store.coordinator_key(name), "name", "role")
    pipe.zscore(store.coordinator_sessions_key(name), token)
    (stored, role), expires = pipe.execute()
    if not stored or expires is None or float(expires) <= now:
        return None
    return {"name": stored, "role": role}


def end_session(r, name: str, token: str) -> None:
    """Log one session out."""
    r.zrem(store.coordinator_sessions_key(normalize(name)), token)


PHONE_FIELDS = ("phone", "shifts", "timezone")
"""A dispatcher's phone (sealed), weekly shifts and their time zone: who the voice line rings (bot/voice)."""


def set_phone(r, secret: str, name: str, e164: str | None, shifts: str = "", timezone: str = "") -> bool:
    """Give an account the phone the hotline rings on its shifts (sealed at rest), or take it away (None).

    Shifts and time zone are validated by the caller (observers' shift syntax);
    no shifts means the phone rings whenever a caller asks for a person.
    Return False when there is no such account.
    """
    key = store.coordinator_key(normalize(name))
    if not r.exists(key):
        return False
    if e164 is None:
        r.hdel(key, *PHONE_FIELDS)
        return True
    r.hset(key, mapping={"phone": privacy.seal(secret, e164), "shifts": shifts, "timezone": timezone})
    return True


def with_phones(r) -> list[dict]:
    """Every account that has a phone: name, sealed phone, shifts, time zone (for the voice line's roster)."""
    names = sorted(r.smembers(store.coordinators_key()))
    pipe = r.pipeline(transaction=False)
    for name in names:
        pipe.hmget(store.coordinator_key(name), *PHONE_FIELDS)
    return [
        {"name": name, "phone": phone, "shifts": shifts or "", "timezone": tz or ""}
        for name, (phone, shifts, tz) in zip(names, pipe.execute())
        if phone
    ]


def may(role: str | None, what: str) -> bool:
    """Tell whether a role may do one kind of thing (`incidents`, `queue`, `roster`)."""
    return what in PERMISSIONS.get(role or "", set())
