"""The index file's tables, shared by the import that writes them and the index that reads them."""

from __future__ import annotations

import math

SCHEMA_VERSION = 2
"""Bumped when the tables change; an index of another version is ignored (re-run the import)."""

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE names (id INTEGER PRIMARY KEY, key TEXT NOT NULL, display TEXT NOT NULL);
CREATE TABLE streets (
    id INTEGER PRIMARY KEY, name INTEGER NOT NULL, lat REAL, lon REAL, precision_m INTEGER,
    south REAL, west REAL, north REAL, east REAL, city TEXT, area TEXT
);
CREATE TABLE crossings (a INTEGER NOT NULL, b INTEGER NOT NULL, lat REAL, lon REAL, city TEXT, area TEXT);
CREATE TABLE places (id INTEGER PRIMARY KEY, name TEXT, kind TEXT, lat REAL, lon REAL, precision_m INTEGER);
CREATE TABLE aliases (
    first TEXT NOT NULL, second TEXT NOT NULL, words TEXT NOT NULL, kind TEXT NOT NULL, ref INTEGER NOT NULL
);
CREATE TABLE typos (variant TEXT NOT NULL, word TEXT NOT NULL);
"""
"""names: one row per street name (its key: the words without a compass word); streets: each stretch of
one name (its extent and a point on it); aliases: every word run that names a street ('s' → names.id)
or a place ('p' → places.id), by its first two words (second '' for a one-word alias: a text reads
only the aliases whose first two words it says, however many shops line the street it names);
typos: every alias first or second word of 5+ letters under itself and each one-letter deletion
of it, so a misspelt word finds its candidates with one lookup."""

CELL_PER_DEGREE = 500
"""Grid cells per degree for "the nearest street" at import: about 220 m × 180 m at LA's latitude."""


def cell(lat: float, lon: float) -> tuple[int, int]:
    """The (row, column) of the import grid cell holding a point."""
    return int((lat + 90) * CELL_PER_DEGREE), int((lon + 180) * CELL_PER_DEGREE)


def cell_id(lat: float, lon: float) -> int:
    """One integer per grid cell (row * 10,000,000 + column), for an indexed IN lookup."""
    y, x = cell(lat, lon)
    return y * 10_000_000 + x


def flat_m2(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Squared distance in square metres on a local flat map: to rank near points fast (the haversine
    `distance_m` checks the winner; over a few kilometres the two agree to a fraction of a percent)."""
    dy = (a[0] - b[0]) * 111_195.0
    dx = (a[1] - b[1]) * 111_195.0 * math.cos(math.radians(a[0]))
    return dx * dx + dy * dy


def deletions(word: str) -> set[str]:
    """Every string one letter shorter than word (symmetric-delete typo matching: a typo and the
    word it misspells share a deletion whenever they are one substitution, insertion or swap apart)."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}
