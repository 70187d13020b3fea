"""The audit log: who did what, to which incident or volunteer, and when.

The network must be able to answer "who closed this?" after a raid. Every
console, CLI and observer action on an incident lands here (and on the
incident's own timeline, which retention purges with the incident). Entries
hold names, refs and action words only: never a number, never a caller's words.
"""

from __future__ import annotations

from . import store

KEEP_DAYS = 90
"""How long audit entries are kept: an after-action review or a complaint comes within weeks, not years."""

_MS_PER_DAY = 24 * 3600 * 1000


def record(r, action: str, by: str, now: float, **fields) -> str:
    """Append one entry (trimming entries older than KEEP_DAYS in the same call); return its id."""
    flat = {"action": action, "by": by or "?", "at": f"{now:.3f}"}
    for name, value in fields.items():
        if value not in (None, ""):
            flat[name] = str(value)
    min_id = max(0, int(now * 1000) - KEEP_DAYS * _MS_PER_DAY)
    return r.xadd(store.audit_key(), flat, minid=min_id, approximate=True)


def entries(r, count: int = 200, incident_id: str | None = None) -> list[dict]:
    """The newest entries first (optionally those about one incident)."""
    found = []
    for entry_id, fields in r.xrevrange(store.audit_key(), count=count if incident_id is None else None):
        if incident_id is not None and fields.get("incident") != incident_id:
            continue
        found.append({"id": entry_id, **fields, "at": float(fields.get("at", 0))})
        if len(found) >= count:
            break
    return found
