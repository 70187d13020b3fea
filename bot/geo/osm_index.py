"""The imported OpenStreetMap index, read on the webhook's hot path: a read-only SQLite file.

Why SQLite: one file under HOTLINE_DATA_DIR that every web process maps
read-only (the OS page cache shares it, nothing is loaded per process), and
indexed lookups of the few words a text contains take tens of microseconds.
A lookup asks for the aliases starting with the text's words (or with a word
one typo away, through the `typos` table), keeps those the text really says,
then the crossings, stretches and places of what it found: a handful of
indexed queries, whatever the size of the county.

`hotline places import` writes a new file beside the old one and renames it
over; each process looks at the file's identity at most once a second and
reopens it when it changed, so a new import is used within seconds, no restart.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .osm_schema import SCHEMA_VERSION, deletions
from .words import _find, _same_word

log = logging.getLogger(__name__)

INDEX_FILE = "places.sqlite"
"""The index's file name under HOTLINE_DATA_DIR."""

MAX_SAME_ALIAS = 12
"""Places kept per alias a text says: more that answer to the same words ("McDonald's" alone, 300 of them
in a county) can only be asked back as "which one?" with a few options, so the rest are not read."""

CHECK_INTERVAL_S = 1.0
"""Look at the index file's identity at most this often per process (as the flow registry does)."""


@dataclass(frozen=True)
class Hit:
    """What the index knows about the words of one text: only the streets and places it names."""

    streets: dict[int, tuple[str, tuple[tuple[str, ...], ...]]] = field(default_factory=dict)
    """street name id → (display name, the aliases the text matched)."""
    crossings: tuple[tuple[int, int, float, float, str, str], ...] = ()
    """(street a, street b, lat, lon, city, neighbourhood) among the streets named."""
    stretches: tuple[tuple[int, float, float, int, str, str], ...] = ()
    """(street, lat, lon, precision_m, city, neighbourhood): each stretch of the streets named."""
    places: tuple[tuple[str, str, float, float, int, tuple[tuple[str, ...], ...]], ...] = ()
    """(label, kind, lat, lon, precision_m, aliases the text matched) of landmarks named."""


def _marks(n: int) -> str:
    return ",".join("?" * n)


class OsmIndex:
    """One open index file (thread-safe: one connection, one lock, queries of a fraction of a millisecond)."""

    def __init__(self, path: Path):
        self.path = path
        self.identity = _identity(path)
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.lock = threading.Lock()
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        if meta.get("schema") != str(SCHEMA_VERSION):
            self.db.close()
            raise ValueError(f"{path} was built by another version (schema {meta.get('schema')}); re-run the import")
        self.meta = meta
        self.areas = tuple(
            (name, kind, lat, lon, precision, tuple(tuple(w.split()) for w in aliases.split("|")))
            for name, kind, lat, lon, precision, aliases in self.db.execute(
                "SELECT name, places.kind, lat, lon, precision_m, GROUP_CONCAT(words, '|') FROM places"
                " JOIN aliases ON aliases.kind = 'p' AND ref = places.id WHERE places.kind != 'landmark'"
                " GROUP BY places.id"
            )
        )
        """Cities and neighbourhoods, all in memory: a few hundred, matched like the gazetteer's areas."""

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def _typo_words(self, tokens: list[str]) -> set[str]:
        """Alias first or second words one typo away from a token (checked with the same rule as everywhere)."""
        long = [t for t in set(tokens) if len(t) >= 5 and not t.isdigit()]
        if not long:
            return set()
        variants = sorted({v for t in long for v in (t, *deletions(t))})
        rows = self.db.execute(f"SELECT DISTINCT word FROM typos WHERE variant IN ({_marks(len(variants))})", variants)
        return {w for (w,) in rows if any(_same_word(w, t) for t in long)}

    def lookup(self, tokens: list[str], street_keys: dict[str, tuple[tuple[str, ...], ...]] | None = None) -> Hit:
        """Find the streets, crossings and landmarks tokens name; street_keys adds the coordinators' aliases
        (street key → alias word tuples) to the streets whose key is listed, so "Florencia" finds Florence Ave."""
        street_keys = street_keys or {}
        with self.lock:
            firsts = sorted(set(tokens) | self._typo_words(tokens))
            marks = _marks(len(firsts))
            rows = self.db.execute(
                f"SELECT words, kind, GROUP_CONCAT(ref) FROM aliases WHERE first IN ({marks})"
                f" AND (second = '' OR second IN ({marks})) GROUP BY words, kind",
                firsts + firsts,
            ).fetchall()
            said: dict[tuple[str, int], list[tuple[str, ...]]] = {}
            for text, kind, refs in rows:  # each distinct alias once, however many places share it
                alias = tuple(text.split())
                if _find(alias, tokens):
                    for ref in refs.split(",")[:MAX_SAME_ALIAS]:
                        said.setdefault((kind, int(ref)), []).append(alias)
            if street_keys:
                keys = sorted(street_keys)
                for ref, key in self.db.execute(f"SELECT id, key FROM names WHERE key IN ({_marks(len(keys))})", keys):
                    said.setdefault(("s", ref), []).extend(street_keys[key])
            ids = sorted(ref for kind, ref in said if kind == "s")
            names = self.db.execute(f"SELECT id, display FROM names WHERE id IN ({_marks(len(ids))})", ids)
            streets = {ref: (display, tuple(dict.fromkeys(said[("s", ref)]))) for ref, display in names}
            crossings: list = []
            if len(ids) >= 2:
                crossings = self.db.execute(
                    f"SELECT a, b, lat, lon, city, area FROM crossings WHERE a IN ({_marks(len(ids))})"
                    f" AND b IN ({_marks(len(ids))})",
                    ids + ids,
                ).fetchall()
            stretches = self.db.execute(
                f"SELECT name, lat, lon, precision_m, city, area FROM streets WHERE name IN ({_marks(len(ids))})", ids
            ).fetchall()
            pids = sorted(ref for kind, ref in said if kind == "p")
            places = [
                (name, kind, lat, lon, precision, tuple(said[("p", pid)]))
                for pid, name, kind, lat, lon, precision in self.db.execute(
                    f"SELECT id, name, kind, lat, lon, precision_m FROM places WHERE id IN ({_marks(len(pids))})"
                    " AND kind = 'landmark'",
                    pids,
                )
            ]
        return Hit(streets, tuple(crossings), tuple(stretches), tuple(places))


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


_configured: Path | None = None
_open: OsmIndex | None = None
_checked_at: float | None = None
_state_lock = threading.Lock()


def use(path: str | Path | None) -> None:
    """Say which index file `current()` serves (None: none); the app calls this with HOTLINE_DATA_DIR's."""
    global _configured, _checked_at
    with _state_lock:
        _configured = Path(path) if path else None
        _checked_at = None
        _swap(None)


def refresh() -> None:
    """Look at the index file on the next `current()` instead of waiting out the second (tests, SIGHUP)."""
    global _checked_at
    _checked_at = None


def _swap(new: OsmIndex | None) -> None:
    global _open
    old, _open = _open, new
    if old is not None and old is not new:
        old.close()


def current() -> OsmIndex | None:
    """The index to look names up in, reopened when an import replaced the file (looked at once a second)."""
    global _checked_at
    clock = time.monotonic()
    if _checked_at is not None and clock - _checked_at < CHECK_INTERVAL_S:
        return _open
    with _state_lock:
        _checked_at = clock
        path = _configured
        if path is None:
            return None
        try:
            identity = _identity(path)
        except FileNotFoundError:
            _swap(None)
            return None
        if _open is not None and _open.identity == identity:
            return _open
        try:
            fresh = OsmIndex(path)
            _swap(fresh)
            log.info("map index %s loaded (%s)", path.name, os.path.basename(fresh.meta.get("source", "")))
        except (sqlite3.Error, ValueError) as exc:  # a broken file never replaces a working one
            log.error("map index %s not usable: %s", path, exc)
        return _open
