"""The coordinators' gazetteer (flows/places.yaml) and US place names: cross streets, landmarks, areas.

Street crossings come first, then landmarks, then neighborhoods and cities
(the gazetteer's, then the `zipcodes` package's), always inside the bounds box;
equally good answers come back as candidates so the flow can ask.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import yaml
import zipcodes

from .location import KIND_PRECISION_M, PRECISION_M, _in_bounds
from .words import _same_word, words

log = logging.getLogger(__name__)

DEFAULT_PLACES = Path(__file__).resolve().parents[2] / "flows" / "places.yaml"
"""The gazetteer used when the caller names none."""

MAX_EXTENSION_M = 1500
"""How far past the listed corners a street may be extended to estimate a crossing."""


@dataclass(frozen=True)
class Place:
    """A gazetteer entry (or a US city from the zipcodes package)."""

    name: str
    kind: str
    lat: float
    lon: float
    precision_m: int
    aliases: tuple[tuple[str, ...], ...]
    source: str


@dataclass(frozen=True)
class Gazetteer:
    """Streets, intersections and places coordinators listed in places.yaml."""

    streets: dict
    """street id → (display name, alias word tuples)."""
    intersections: tuple
    """(frozenset of two street ids, city, lat, lon)."""
    places: tuple[Place, ...]


def _aliases(names) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(tuple(words(str(n))) for n in names if words(str(n))))


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Gazetteer:
    """Read a gazetteer, skipping entries check_places would flag, so a typo never breaks the webhook."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        log.error("gazetteer %s is not valid YAML; run `hotline flows check`", path)
        return Gazetteer({}, (), ())
    if not isinstance(data, dict):
        return Gazetteer({}, (), ())
    streets = {
        str(sid): (str(names[0]), _aliases(names))
        for sid, names in (data.get("streets") or {}).items()
        if isinstance(names, list) and names
    }
    crossings, places = [], []
    for e in data.get("intersections") or ():
        try:
            pair = frozenset(e["at"])
            if len(pair) == 2 and pair <= set(streets):
                crossings.append((pair, str(e.get("city", "")), float(e["lat"]), float(e["lon"])))
        except (KeyError, TypeError, ValueError):  # a bad entry: reported by check_places, skipped here
            continue
    for p in data.get("places") or ():
        try:
            kind = p.get("kind", "landmark")
            places.append(
                Place(
                    str(p["name"]),
                    kind,
                    float(p["lat"]),
                    float(p["lon"]),
                    int(p.get("precision_m") or KIND_PRECISION_M.get(kind, PRECISION_M["landmark"])),
                    _aliases([p["name"], *(p.get("aliases") or ())]),
                    "gazetteer",
                )
            )
        except (AttributeError, KeyError, TypeError, ValueError):  # as above
            continue
    return Gazetteer(streets, tuple(crossings), tuple(places))


def load_places(path: str | Path | None = None) -> Gazetteer:
    """Load a gazetteer YAML (cached until the file changes)."""
    path = Path(path or DEFAULT_PLACES)
    if not path.exists():
        return Gazetteer({}, (), ())
    return _load(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=8)
def us_places(bounds) -> tuple[Place, ...]:
    """US city names whose ZIP codes lie inside bounds, each at the mean of its ZIP centroids."""
    sums: dict[tuple[str, str], list[float]] = {}
    for z in zipcodes.list_all():
        if not z.get("lat") or z.get("zip_code_type") not in ("STANDARD", "UNIQUE"):
            continue
        lat, lon = float(z["lat"]), float(z["long"])
        if not _in_bounds(lat, lon, bounds):
            continue
        acc = sums.setdefault((z["city"], z["state"]), [0.0, 0.0, 0])
        acc[0] += lat
        acc[1] += lon
        acc[2] += 1
    return tuple(
        Place(f"{city}, {state}", "city", lat / n, lon / n, PRECISION_M["city"], _aliases([city]), "zipcodes")
        for (city, state), (lat, lon, n) in sorted(sums.items())
    )


E = TypeVar("E")
"""What an index entry is: a street id (str) or a Place."""


class _Index(Generic[E]):
    """Entries (streets or places, in gazetteer order) by the first word of their aliases.

    Matching every alias of every entry against each text cost most of a first
    message's CPU; only an entry with an alias whose first word matches a token
    (exactly, or as a typo: same first letter, 5+ letters) can match at all, so
    the index narrows the entries to those before the same alias-by-alias match.
    """

    def __init__(self, entries: list[tuple[E, tuple[tuple[str, ...], ...]]]):
        self.entries = entries
        self.by_word: dict[str, list[int]] = {}
        for i, (_, aliases) in enumerate(entries):
            for alias in aliases:
                positions = self.by_word.setdefault(alias[0], [])
                if not positions or positions[-1] != i:
                    positions.append(i)
        self.long_by_letter: dict[str, list[str]] = {}  # typo candidates: _same_word needs 5+ letters
        for word in self.by_word:
            if len(word) >= 5:
                self.long_by_letter.setdefault(word[0], []).append(word)

    def candidates(self, tokens: list[str]) -> list[int]:
        """Return, in gazetteer order, the entries with an alias whose first word matches a token."""
        found: set[int] = set()
        for token in set(tokens):
            found.update(self.by_word.get(token, ()))
            if len(token) >= 5:
                for word in self.long_by_letter.get(token[0], ()):
                    if word != token and _same_word(word, token):
                        found.update(self.by_word[word])
        return sorted(found)

    def starting_with(self, alias: tuple[str, ...]) -> list[int]:
        """Return, in gazetteer order, the entries with an alias that starts with alias's first word."""
        return self.by_word.get(alias[0], [])
