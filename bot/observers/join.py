"""Join codes: a volunteer texts `JOIN CODE` (or `UNIRME CODE`) to enroll with a coordinator's defaults."""

from __future__ import annotations

import json
import secrets

from .. import store
from .parse import parse_row
from .roster import get, observer_id_for, upsert

JOIN_CODE_TTL_S = 7 * 24 * 3600
"""A coordinator's join code works for a week, then must be issued again."""

JOIN_WORDS = {"join": "en", "unirme": "es"}
"""The words that start an enrollment text, and the language each one answers in."""


def issue_join_code(r, defaults: dict, now: float, ttl_s: int = JOIN_CODE_TTL_S) -> str:
    """Create a join code a volunteer texts (`JOIN CODE`) to enroll with these roster defaults."""
    code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    r.set(store.join_code_key(code), json.dumps({**defaults, "issued_at": now}), ex=ttl_s)
    return code


def enroll(r, settings, code: str, e164: str, now: float) -> str | None:
    """Enroll a number with a join code's defaults; return the observer id, or None for a bad code."""
    raw = r.get(store.join_code_key(code.strip().upper()))
    if not raw:
        return None
    defaults = json.loads(raw)
    row = {
        "name": defaults.get("name") or "volunteer",
        "phone": e164,
        "languages": defaults.get("languages", "en"),
        "location": defaults.get("location", ""),
        "radius_km": str(defaults.get("radius_km", "10")),
        "on_call": defaults.get("on_call", "no"),
        "skills": defaults.get("skills", ""),
        "shifts": defaults.get("shifts", ""),
        "timezone": defaults.get("timezone", ""),
    }
    existing = get(r, observer_id_for(settings, e164))
    if existing and existing.get("name"):
        row["name"] = existing["name"]
    fields = parse_row(row, settings)
    return upsert(r, settings, fields, now)
