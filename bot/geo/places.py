"""The coordinators' gazetteer (flows/places.yaml) and US place names: cross streets, landmarks, areas.

Street crossings come first, then landmarks, then neighborhoods and cities
(the gazetteer's, then the `zipcodes` package's), always inside the bounds box;
equally good answers come back as candidates so the flow can ask.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, TypeVar

import yaml
import zipcodes

from .location import KIND_PRECISION_M, PRECISION_M, Location, _dist_m, _in_bounds, _point
from .words import _find, _same_word, fold, words

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


@dataclass(frozen=True)
class _Lookup:
    """What from_names needs of one gazetteer inside one bounds box, built once."""

    streets: _Index[str]
    street_words: frozenset
    landmarks: _Index[Place]
    areas: _Index[Place]


_lookups: dict[tuple[int, object], tuple[Gazetteer, _Lookup]] = {}
_lookups_lock = threading.Lock()
MAX_LOOKUPS = 8
"""Lookups kept per process (gazetteer versions × bounds boxes)."""


def _lookup(g: Gazetteer, bounds) -> _Lookup:
    """Return the index of a gazetteer inside bounds (cached per gazetteer object, so a reload rebuilds it)."""
    key = (id(g), tuple(bounds) if bounds else None)
    hit = _lookups.get(key)
    if hit is not None and hit[0] is g:
        return hit[1]
    streets = _Index([(sid, aliases) for sid, (_, aliases) in g.streets.items()])
    street_words = frozenset(w for _, aliases in g.streets.values() for a in aliases for w in a)
    landmarks = [p for p in g.places if p.kind == "landmark" and _in_bounds(p.lat, p.lon, bounds)]
    areas = [p for p in g.places if p.kind != "landmark" and _in_bounds(p.lat, p.lon, bounds)]
    known = {a for p in areas for a in p.aliases}  # the coordinators' name wins over the package's
    areas += [p for p in us_places(key[1]) if not set(p.aliases) & known]
    areas = [p for p in areas if _in_bounds(p.lat, p.lon, bounds)]
    found = _Lookup(
        streets, street_words, _Index([(p, p.aliases) for p in landmarks]), _Index([(p, p.aliases) for p in areas])
    )
    with _lookups_lock:
        if len(_lookups) >= MAX_LOOKUPS:
            _lookups.pop(next(iter(_lookups)))
        _lookups[key] = (g, found)  # holding g keeps id(g) from being reused while the entry lives
    return found


def _street_hits(tokens: list[str], g: Gazetteer, index: _Index[str] | None = None) -> dict[str, tuple[int, int, bool]]:
    """Find the listed streets named in tokens: street id → (first word, words, exact)."""
    hits: dict[str, tuple[int, int, bool]] = {}
    if index is None:
        index = _Index([(sid, aliases) for sid, (_, aliases) in g.streets.items()])
    for i in index.candidates(tokens):
        sid, aliases = index.entries[i]
        for alias in aliases:
            found = _find(alias, tokens)
            if found and (sid not in hits or len(alias) > hits[sid][1]):
                hits[sid] = (found[0], len(alias), found[1])
    return hits


def _crossing(tokens: list[str], g: Gazetteer, bounds, hits, between: bool = False) -> Location | None:
    """Find two named streets that the gazetteer knows (or can estimate) cross."""
    if len(hits) < 2:
        return None
    named = set(hits)
    matches = [c for c in g.intersections if c[0] <= named and _in_bounds(c[2], c[3], bounds)]
    if len(matches) > 1:  # the same pair in several cities: a city named in the text decides
        cities = [c for c in matches if c[1] and _find(tuple(words(c[1])), tokens)]
        matches = cities or matches
    if between and len(matches) == 2 and matches[0][0] & matches[1][0]:
        return _between(matches, g)
    if not matches and len(hits) == 2:
        return _estimated_crossing(sorted(hits, key=lambda s: hits[s][0]), g, bounds)
    options = []
    for streets, city, lat, lon in matches:
        exact = all(hits[s][2] for s in streets)
        in_order = sorted(streets, key=lambda s: hits[s][0])  # as the reporter named them
        names = " & ".join(g.streets[s][0] for s in in_order)
        options.append(
            _point(lat, lon, PRECISION_M["street"], f"{names}, {city}".strip(", "), "gazetteer", 0.9 if exact else 0.75)
        )
    return _pick(options)


def _between(corners, g: Gazetteer) -> Location:
    """Place "on A between B and C" at the middle of the block, as precise as half its length."""
    (s1, city, la1, lo1), (s2, _, la2, lo2) = corners
    along = next(iter(s1 & s2))
    ends = " and ".join(g.streets[s][0] for s in sorted((s1 | s2) - {along}))
    half_m = _dist_m((la1, lo1), (la2, lo2)) / 2
    return _point(
        (la1 + la2) / 2,
        (lo1 + lo2) / 2,
        max(PRECISION_M["street"], round(half_m)),
        f"{g.streets[along][0]} between {ends}, {city}",
        "gazetteer",
        0.8,
    )


def _estimated_crossing(pair: list[str], g: Gazetteer, bounds) -> Location | None:
    """Estimate where two listed streets cross from the corners listed on each (straight-line extension).

    Each street is taken as the line through its two listed corners nearest the
    other street; the answer is only given when both lines are long enough, cross
    at a real angle, and the crossing is near corners of both streets, and it
    is marked estimated (landmark precision, confidence asking to confirm).
    """
    on = {sid: [(lat, lon, city) for streets, city, lat, lon in g.intersections if sid in streets] for sid in pair}
    if any(len(points) < 2 for points in on.values()):
        return None
    a, b = pair
    lat0 = math.radians(on[a][0][0])

    def xy(p):  # metres on a local flat map: enough for a few kilometres
        return (p[1] * 111320.0 * math.cos(lat0), p[0] * 110574.0)

    def line(sid, other):
        target = min(on[other], key=lambda p: min(_dist_m(p, q) for q in on[sid]))
        first, second = sorted(on[sid], key=lambda p: _dist_m(p, target))[:2]
        return xy(first), xy(second), first

    (p1, p2, near_a), (q1, q2, near_b) = line(a, b), line(b, a)
    d1 = (p2[0] - p1[0], p2[1] - p1[1])
    d2 = (q2[0] - q1[0], q2[1] - q1[1])
    cross = d1[0] * d2[1] - d1[1] * d2[0]
    n1, n2 = math.hypot(*d1), math.hypot(*d2)
    if n1 < 100 or n2 < 100 or abs(cross) / (n1 * n2) < math.sin(math.radians(30)):
        return None
    t = ((q1[0] - p1[0]) * d2[1] - (q1[1] - p1[1]) * d2[0]) / cross
    x, y = p1[0] + t * d1[0], p1[1] + t * d1[1]
    lat, lon = y / 110574.0, x / (111320.0 * math.cos(lat0))
    if max(_dist_m((lat, lon), near_a), _dist_m((lat, lon), near_b)) > MAX_EXTENSION_M:
        return None
    if not _in_bounds(lat, lon, bounds):
        return None
    names = " & ".join(g.streets[s][0] for s in pair)
    return _point(lat, lon, PRECISION_M["landmark"], f"{names}, {near_a[2]} (estimated)", "gazetteer~", 0.55)


def _pick(options: list[Location]) -> Location | None:
    if not options:
        return None
    if len(options) == 1:
        return options[0]
    first = replace(options[0], confidence=min(options[0].confidence, 0.4))
    return replace(first, candidates=tuple(options))


def _named_places(tokens: list[str], index: _Index[Place], street_words: frozenset) -> Location | None:
    """Find the place whose longest alias appears in tokens; several equally good → candidates."""
    scored = []
    for i in index.candidates(tokens):
        place = index.entries[i][0]
        best = None
        for alias in place.aliases:
            found = _find(alias, tokens)
            if found and (best is None or (len(alias), found[1]) > best):
                best = (len(alias), found[1])
        if best:
            scored.append((best, place))
    if not scored:
        return None
    top = max(score for score, _ in scored)
    winners = [p for score, p in scored if score == top]
    # a longer name that starts the same way but was not said ("Bell" vs "Bell Gardens")
    said = {a for _, p in scored for a in p.aliases if len(a) == top[0] and _find(a, tokens)}
    starting = sorted({i for s in said for i in index.starting_with(s)})
    longer = [
        p
        for p in (index.entries[i][0] for i in starting)
        if p not in winners and any(len(a) > len(s) and a[: len(s)] == s for a in p.aliases for s in said)
    ]
    options, seen = [], set()
    for place in winners + longer:
        if place.name in seen:
            continue
        seen.add(place.name)
        confidence = (0.85 if top[1] else 0.7) if place.kind == "landmark" else (0.75 if top[1] else 0.6)
        if any(set(s) <= street_words for s in said):  # "Florence" alone may be the avenue
            confidence = min(confidence, 0.45)
        options.append(_point(place.lat, place.lon, place.precision_m, place.name, place.source, confidence))
    return _pick(options)


def from_names(text: str, bounds=None, places: Gazetteer | None = None, with_areas: bool = True) -> Location | None:
    """Locate cross streets, landmarks and (with_areas) neighborhoods and city names."""
    g = places or load_places()
    tokens = words(text)
    if not tokens:
        return None
    lookup = _lookup(g, bounds)
    hits = _street_hits(tokens, g, lookup.streets)
    between = bool(re.search(r"\b(between|entre|btwn)\b", fold(text)))
    found = _crossing(tokens, g, bounds, hits, between)
    if found:
        return found
    if len(hits) >= 2:  # cross streets we cannot place: "Whittier & Atlantic" is not the city of Whittier
        used = {i for start, n, _ in hits.values() for i in range(start, start + n)}
        tokens = [t for i, t in enumerate(tokens) if i not in used]
    found = _named_places(tokens, lookup.landmarks, lookup.street_words)
    if found or not with_areas:
        return found
    return _named_places(tokens, lookup.areas, lookup.street_words)


KINDS = tuple(KIND_PRECISION_M)
"""Kinds a gazetteer place may have."""


def check_places(path: str | Path) -> list[tuple[int, str]]:
    """Check a gazetteer file for coordinators' mistakes; return (line, problem) pairs in file order."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [((mark.line + 1) if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        return [(root.start_mark.line + 1, "the file must be a mapping with streets, intersections and places")]
    problems: list[tuple[int, str]] = []
    sections = {key.value: value for key, value in root.value}
    streets = set()
    for key, names in getattr(sections.get("streets"), "value", []) or []:
        streets.add(key.value)
        if not isinstance(names, yaml.SequenceNode) or not names.value:
            problems.append((key.start_mark.line + 1, f"street {key.value!r} needs a list of names"))
    seen_pairs: dict[tuple[frozenset, object], int] = {}
    for node in getattr(sections.get("intersections"), "value", []) or []:
        line = node.start_mark.line + 1
        entry = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.MappingNode) else None
        if not isinstance(entry, dict):
            problems.append((line, "an intersection must be a mapping with at, city, lat, lon, source"))
            continue
        at = entry.get("at")
        if not isinstance(at, list) or len(at) != 2 or len(set(map(str, at))) != 2:
            problems.append((line, "at: must name two different street ids"))
        else:
            problems += [
                (line, f"unknown street id {sid!r} (add it under streets:)") for sid in at if sid not in streets
            ]
            pair = frozenset(at)
            if (pair, entry.get("city")) in seen_pairs:
                problems.append((line, f"same corner as line {seen_pairs[(pair, entry.get('city'))]}"))
            seen_pairs[(pair, entry.get("city"))] = line
        problems += _check_point(entry, line)
    for node in getattr(sections.get("places"), "value", []) or []:
        line = node.start_mark.line + 1
        entry = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.MappingNode) else None
        if not isinstance(entry, dict) or not entry.get("name"):
            problems.append((line, "a place needs a name"))
            continue
        if entry.get("kind", "landmark") not in KINDS:
            problems.append((line, f"kind must be one of {', '.join(KINDS)}, got {entry.get('kind')!r}"))
        if entry.get("aliases") is not None and not isinstance(entry.get("aliases"), list):
            problems.append((line, "aliases must be a list"))
        if "precision_m" in entry and not (isinstance(entry["precision_m"], int) and entry["precision_m"] > 0):
            problems.append((line, "precision_m must be a positive whole number of metres"))
        problems += _check_point(entry, line)
    return sorted(problems)


def _check_point(entry: dict, line: int) -> list[tuple[int, str]]:
    problems = []
    try:
        lat, lon = float(entry["lat"]), float(entry["lon"])
    except (KeyError, TypeError, ValueError):  # a missing or non-numeric coordinate is the coordinator's mistake
        return [(line, "lat and lon must be numbers (5 decimals, from a map pin)")]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        problems.append((line, f"{lat},{lon} is not a point on Earth (lat first, then lon)"))
    if not entry.get("source"):
        problems.append((line, "say where the point came from (source:)"))
    return problems
