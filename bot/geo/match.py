"""Matching a text against the places the hotline knows: cross streets, landmarks, streets, areas.

Two sources: the coordinators' gazetteer (flows/places.yaml, small, in memory)
and the map index imported from OpenStreetMap (`osm_index`, a county's streets
in SQLite). The gazetteer is asked first and wins: what coordinators typed is
what they mean. Then the map index, with the gazetteer's aliases of a street
lent to the map's street of the same name ("Florencia" → Florence Avenue).
Street crossings come first, then landmarks, then (with_areas) neighborhoods
and cities, then a street named alone ("on Slauson": the stretch, as precise
as it is long); equally good answers come back as candidates so the flow asks.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, replace

from . import osm_index
from .location import PRECISION_M, Location, _dist_m, _in_bounds, _point
from .places import MAX_EXTENSION_M, Gazetteer, Place, _Index, load_places, us_places
from .words import _find, fold, words


@dataclass(frozen=True)
class _Lookup:
    """What from_names needs of one gazetteer inside one bounds box, built once."""

    streets: _Index[str]
    street_words: frozenset
    landmarks: _Index[Place]
    areas: _Index[Place]


_lookups: dict[tuple[int, int, object], tuple[Gazetteer, object, _Lookup]] = {}
_lookups_lock = threading.Lock()
MAX_LOOKUPS = 8
"""Lookups kept per process (gazetteer versions × map index versions × bounds boxes)."""


def _lookup(g: Gazetteer, bounds, osm: osm_index.OsmIndex | None = None) -> _Lookup:
    """Return the index of a gazetteer (and the map's areas) inside bounds, cached per gazetteer and map object."""
    key = (id(g), id(osm), tuple(bounds) if bounds else None)
    hit = _lookups.get(key)
    if hit is not None and hit[0] is g and hit[1] is osm:
        return hit[2]
    streets = _Index([(sid, aliases) for sid, (_, aliases) in g.streets.items()])
    street_words = frozenset(w for _, aliases in g.streets.values() for a in aliases for w in a)
    landmarks = [p for p in g.places if p.kind == "landmark" and _in_bounds(p.lat, p.lon, bounds)]
    areas = [p for p in g.places if p.kind != "landmark" and _in_bounds(p.lat, p.lon, bounds)]
    known = {a for p in areas for a in p.aliases}  # the coordinators' name wins over the map's and the package's
    if osm is not None:
        mapped = [Place(n, kind, lat, lon, prec, aliases, "osm") for n, kind, lat, lon, prec, aliases in osm.areas]
        areas += [p for p in mapped if not set(p.aliases) & known]
        known = {a for p in areas for a in p.aliases}
    areas += [p for p in us_places(key[2]) if not set(p.aliases) & known]
    areas = [p for p in areas if _in_bounds(p.lat, p.lon, bounds)]
    found = _Lookup(
        streets, street_words, _Index([(p, p.aliases) for p in landmarks]), _Index([(p, p.aliases) for p in areas])
    )
    with _lookups_lock:
        if len(_lookups) >= MAX_LOOKUPS:
            _lookups.pop(next(iter(_lookups)))
        _lookups[key] = (g, osm, found)  # holding g and osm keeps their ids from being reused while the entry lives
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


def _crossing(
    tokens: list[str], g: Gazetteer, bounds, hits, between: bool = False, source: str = "gazetteer"
) -> Location | None:
    """Find two named streets that the gazetteer knows (or can estimate) cross."""
    if len(hits) < 2:
        return None
    named = set(hits)
    matches = [c for c in g.intersections if c[0] <= named and _in_bounds(c[2], c[3], bounds)]
    if len(matches) > 1:  # the same pair in several cities: a city named in the text decides
        cities = [c for c in matches if any(_find(tuple(words(part)), tokens) for part in c[1].split(",") if part)]
        matches = cities or matches
    if between and len(matches) == 2 and matches[0][0] & matches[1][0]:
        return _between(matches, g, source)
    if not matches and len(hits) == 2 and source == "gazetteer":  # the map has every real crossing
        return _estimated_crossing(sorted(hits, key=lambda s: hits[s][0]), g, bounds)
    options = []
    for streets, city, lat, lon in matches:
        exact = all(hits[s][2] for s in streets)
        in_order = sorted(streets, key=lambda s: hits[s][0])  # as the reporter named them
        names = " & ".join(g.streets[s][0] for s in in_order)
        options.append(
            _point(lat, lon, PRECISION_M["street"], f"{names}, {city}".strip(", "), source, 0.9 if exact else 0.75)
        )
    return _pick(options)


def _between(corners, g: Gazetteer, source: str = "gazetteer") -> Location:
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
        source,
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


def _map_gazetteer(hit: osm_index.Hit) -> Gazetteer:
    """The map index's answer for one text, as a gazetteer of just the streets, crossings and places it named."""
    streets = {f"osm:{ref}": entry for ref, entry in hit.streets.items()}
    crossings = tuple(
        (frozenset((f"osm:{a}", f"osm:{b}")), ", ".join(n for n in (area, city) if n), lat, lon)
        for a, b, lat, lon, city, area in hit.crossings
    )
    places = tuple(Place(n, kind, lat, lon, prec, aliases, "osm") for n, kind, lat, lon, prec, aliases in hit.places)
    return Gazetteer(streets, crossings, places)


def _on_street(tokens: list[str], hit: osm_index.Hit, sid: str) -> Location | None:
    """Place a street named alone at its stretch ("on Slauson"): a city named in the text picks the stretch."""
    ref = int(sid.split(":", 1)[1])
    stretches = [s for s in hit.stretches if s[0] == ref]
    in_city = [s for s in stretches if any(c and _find(tuple(words(c)), tokens) for c in s[4:6])]
    name = hit.streets[ref][0]
    options = [
        _point(lat, lon, precision, ", ".join(n for n in (name, area, city) if n), "osm", 0.5)
        for _, lat, lon, precision, city, area in (in_city or stretches)
    ]
    return _pick(sorted(options, key=lambda o: o.precision_m))


def from_names(
    text: str,
    bounds=None,
    places: Gazetteer | None = None,
    with_areas: bool = True,
    osm: osm_index.OsmIndex | None = None,
) -> Location | None:
    """Locate cross streets, landmarks and (with_areas) neighborhoods, cities and streets named alone.

    osm is the map index to ask after the gazetteer (default: the one `osm_index.use` configured).
    """
    g = places or load_places()
    osm = osm or osm_index.current()
    tokens = words(text)
    if not tokens:
        return None
    lookup = _lookup(g, bounds, osm)
    hits = _street_hits(tokens, g, lookup.streets)
    between = bool(re.search(r"\b(between|entre|btwn)\b", fold(text)))
    found = _crossing(tokens, g, bounds, hits, between)
    if found and not (osm is not None and found.source.endswith("~")):  # the map's real corner beats an estimate
        return found
    estimated = found
    mapped, map_hits = Gazetteer({}, (), ()), {}
    if osm is not None:  # the coordinators' aliases of a street lend themselves to the map's street of that name
        lent = {" ".join(a): g.streets[sid][1] for sid in hits for a in g.streets[sid][1]}
        hit = osm.lookup(tokens, lent)
        mapped = _map_gazetteer(hit)
        map_hits = _street_hits(tokens, mapped)
        found = _crossing(tokens, mapped, bounds, map_hits, between, source="osm")
        if found or estimated:
            return found or estimated
    named = {**hits, **map_hits}
    if len(hits) >= 2 or len(map_hits) >= 2:  # cross streets we cannot place: "Whittier & Atlantic" is not Whittier
        used = {i for start, n, _ in named.values() for i in range(start, start + n)}
        tokens = [t for i, t in enumerate(tokens) if i not in used]
    landmarks, street_words = lookup.landmarks, lookup.street_words
    if mapped.places or mapped.streets:
        known = {a for _, aliases in lookup.landmarks.entries for a in aliases}  # the coordinators' wins
        extra = [p for p in mapped.places if _in_bounds(p.lat, p.lon, bounds) and not set(p.aliases) & known]
        landmarks = _Index(lookup.landmarks.entries + [(p, p.aliases) for p in extra])
        street_words = street_words | {w for _, aliases in mapped.streets.values() for a in aliases for w in a}
    found = _named_places(tokens, landmarks, street_words)
    if found or not with_areas:
        return found
    found = _named_places(tokens, lookup.areas, street_words)
    if found or len(map_hits) != 1:
        return found
    return _on_street(tokens, hit, next(iter(map_hits)))
