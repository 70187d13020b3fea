"""The roster in Redis: one hash per observer (number sealed), a GEO index of homes, CSV import.

Observers are known by the contact id of their number; the number itself is
kept only sealed and unsealed just before a text (`number_of`).
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field

from .. import privacy, store
from .parse import REQUIRED_COLUMNS, parse_row


@dataclass
class ImportResult:
    """How many roster rows were upserted, and each bad row's line and problem."""

    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def observer_id_for(settings, e164: str) -> str:
    """Return the id an observer is known by: the contact id of their number."""
    return privacy.contact_id(settings.secret, e164)


def upsert(r, settings, fields: dict, now: float) -> str:
    """Store one validated observer (sealing the number) and index it; return its id."""
    values = dict(fields)
    e164 = values.pop("e164")
    observer_id = observer_id_for(settings, e164)
    values.update(phone=privacy.seal(settings.secret, e164), updated_at=f"{now:.3f}")
    pipe = r.pipeline(transaction=True)
    pipe.hdel(store.observer_key(observer_id), "unreachable")  # a re-import is a coordinator's fix
    pipe.hset(store.observer_key(observer_id), mapping={k: str(v) for k, v in values.items()})
    pipe.geoadd(store.observers_geo_key(), (float(values["lon"]), float(values["lat"]), observer_id))
    pipe.sadd(store.observers_all_key(), observer_id)
    pipe.zadd(store.observers_radius_key(), {observer_id: float(values["radius_km"])})
    pipe.execute()
    return observer_id


def import_csv(r, settings, path, now: float | None = None) -> ImportResult:
    """Upsert every good roster row of a CSV file; report each bad row by its line number."""
    now = time.time() if now is None else now
    result = ImportResult()
    seen: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            result.errors.append((1, f"missing column(s): {', '.join(missing)}"))
            return result
        reader.fieldnames = header
        for row in reader:
            line = reader.line_num
            if not any((v or "").strip() for k, v in row.items() if k):
                continue  # a blank line is not a bad row
            try:
                fields = parse_row(row, settings)
            except ValueError as exc:  # one bad row must not stop the good ones
                result.errors.append((line, str(exc)))
                continue
            if fields["e164"] in seen:
                result.errors.append((line, f"phone repeats line {seen[fields['e164']]}"))
                continue
            seen[fields["e164"]] = line
            upsert(r, settings, fields, now)
            result.imported += 1
    if result.imported:
        store.write_marker(r, now)  # a roster in Redis again: health stops saying it came back empty
    return result


def get(r, observer_id: str) -> dict | None:
    """Return an observer's stored fields (number still sealed), or None."""
    data = r.hgetall(store.observer_key(observer_id))
    return data or None


def get_many(r, observer_ids: list[str]) -> list[dict | None]:
    """Return several observers in one round trip, in the order asked."""
    pipe = r.pipeline(transaction=False)
    for observer_id in observer_ids:
        pipe.hgetall(store.observer_key(observer_id))
    return [data or None for data in pipe.execute()]


def number_of(settings, observer: dict) -> str | None:
    """Unseal an observer's number for sending; None if it was sealed under another secret."""
    return privacy.unseal(settings.secret, observer.get("phone", ""))


def language_of(observer: dict) -> str:
    """The language to text an observer in: the first one they listed."""
    return (observer.get("languages") or "en").split(",")[0]


def languages_of(observer: dict) -> list[str]:
    return (observer.get("languages") or "en").split(",")


def remove(r, observer_id: str) -> None:
    """Take an observer off the roster entirely."""
    pipe = r.pipeline(transaction=True)
    pipe.delete(
        store.observer_key(observer_id), store.observer_open_key(observer_id), store.observer_debrief_key(observer_id)
    )
    pipe.zrem(store.observers_geo_key(), observer_id)
    pipe.srem(store.observers_all_key(), observer_id)
    pipe.zrem(store.observers_radius_key(), observer_id)
    pipe.execute()


def mark_unreachable(r, observer_id: str, reason: str, now: float) -> bool:
    """Record that texts to an observer cannot be delivered, so dispatch skips them; True if this newly marked
    them (coordinators are told then, and not again for texts already on their way while the mark stands)."""
    key = store.observer_key(observer_id)
    pipe = r.pipeline(transaction=True)
    pipe.hsetnx(key, "unreachable", reason)
    pipe.hset(key, "updated_at", f"{now:.3f}")
    return bool(pipe.execute()[0])
