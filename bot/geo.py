"""Turning an answer, a pin or a link into a located point with an honest precision.

Pure and offline (no Redis, no network) so the webhook can call it on its hot
path. A chain of locators is tried from the most to the least precise: a pin,
a map link, typed coordinates, the coordinators' gazetteer (flows/places.yaml:
cross streets, landmarks), a ZIP code, gazetteer areas, then US city names
from the `zipcodes` package. Names resolve only inside `bounds` so "Florence"
never lands in Italy or Kentucky; when a name fits more than one place the
answer carries `candidates` so the conversation can ask which one.
"""
from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlsplit

import yaml
import zipcodes

PRECISION_M = {"exact": 30, "street": 150, "landmark": 300, "zip": 2500, "city": 5000}
"""Typical error radius in metres of each precision class (zip also covers neighborhoods)."""

KIND_PRECISION_M = {"landmark": PRECISION_M["landmark"], "neighborhood": PRECISION_M["zip"],
                    "city": PRECISION_M["city"]}
"""Default precision of a gazetteer place by its kind."""

DEFAULT_PLACES = Path(__file__).resolve().parent.parent / "flows" / "places.yaml"
"""The gazetteer used when the caller names none."""

CLEAR_CONFIDENCE = 0.6
"""Below this confidence an answer should be confirmed with the reporter."""

MAX_EXTENSION_M = 1500
"""How far past the listed corners a street may be extended to estimate a crossing."""

FUZZY_RATIO = 0.8
"""difflib similarity two words of 5+ letters need to count as the same (one typo in 5-9 letters)."""


@dataclass(frozen=True)
class Location:
    """A located point: where, how precise, how sure, what to call it, and the alternatives."""

    lat: float
    lon: float
    precision: str
    precision_m: int
    label: str
    source: str
    confidence: float = 1.0
    candidates: tuple = field(default_factory=tuple)
    """Every place the words could mean (the first is this one); empty when only one fits."""

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("candidates")
        return data

    @property
    def needs_confirmation(self) -> bool:
        """Tell whether the reporter should be asked before this place is used."""
        return bool(self.candidates) or self.confidence < CLEAR_CONFIDENCE or self.precision in ("zip", "city")


def precision_class(precision_m: float) -> str:
    """Name the narrowest precision class whose typical error covers precision_m metres."""
    for name, metres in PRECISION_M.items():
        if precision_m <= metres:
            return name
    return "city"


def _point(lat: float, lon: float, precision_m: int, label: str, source: str, confidence: float) -> Location:
    return Location(round(lat, 6), round(lon, 6), precision_class(precision_m), int(precision_m),
                    label, source, round(confidence, 2))


def _in_bounds(lat: float, lon: float, bounds) -> bool:
    if bounds is None:
        return True
    south, west, north, east = bounds
    return south <= lat <= north and west <= lon <= east


def _valid(lat: float, lon: float) -> bool:
    return -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0)


# ---- words ---------------------------------------------------------------------
_ORDINAL_WORDS = {
    "first": 1, "primera": 1, "primero": 1, "second": 2, "segunda": 2, "segundo": 2,
    "third": 3, "tercera": 3, "tercero": 3, "fourth": 4, "cuarta": 4, "fifth": 5, "quinta": 5,
    "sixth": 6, "sexta": 6, "seventh": 7, "septima": 7, "eighth": 8, "octava": 8,
    "ninth": 9, "novena": 9, "tenth": 10, "decima": 10,
}
_ORDINAL_RE = re.compile(r"^(\d{1,3})(?:st|nd|rd|th|a|o|va|ma|ra|da|ta)$")
_STOPWORDS = frozenset("""
    the a an on at in of by near and or to from with is are there here corner cross crossing
    between next outside front across street st ave av avenue blvd boulevard bl rd road dr drive
    pl place way hwy highway ln lane ct court
    y e o el la los las lo de del en por cerca afuera fuera frente enfrente al sobre entre esquina
    esq con calle avenida bulevar bulevard carretera cruce hay estan esta aqui aca
""".split())


def fold(text: str) -> str:
    """Lower-case and strip accents (Ávila → avila) so spelling variants compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Split text into the words places are matched on: folded, ordinals unified, filler dropped."""
    out = []
    for raw in re.findall(r"[a-z0-9]+", fold(text).replace("'", "")):
        ordinal = _ORDINAL_RE.match(raw)
        if ordinal:
            raw = f"{int(ordinal.group(1))}th"
        elif raw in _ORDINAL_WORDS:
            raw = f"{_ORDINAL_WORDS[raw]}th"
        if raw not in _STOPWORDS:
            out.append(raw)
    return out


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or a[0] != b[0] or a.isdigit() or b.isdigit():
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= FUZZY_RATIO


def _find(alias: tuple[str, ...], tokens: list[str]) -> tuple[int, bool] | None:
    """Find alias words as a run in tokens; return (start, exact) or None."""
    n = len(alias)
    for start in range(len(tokens) - n + 1):
        window = tokens[start:start + n]
        if all(_same_word(a, t) for a, t in zip(alias, window)):
            return start, tuple(window) == alias
    return None


# ---- the gazetteer -------------------------------------------------------------
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
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    streets = {sid: (str(names[0]), _aliases(names)) for sid, names in (data.get("streets") or {}).items()}
    crossings = tuple((frozenset(e["at"]), e.get("city", ""), float(e["lat"]), float(e["lon"]))
                      for e in data.get("intersections") or ())
    places = tuple(
        Place(str(p["name"]), p.get("kind", "landmark"), float(p["lat"]), float(p["lon"]),
              int(p.get("precision_m") or KIND_PRECISION_M.get(p.get("kind", "landmark"), 300)),
              _aliases([p["name"], *(p.get("aliases") or ())]), "gazetteer")
        for p in data.get("places") or ())
    return Gazetteer(streets, crossings, places)


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
    return tuple(Place(f"{city}, {state}", "city", lat / n, lon / n, PRECISION_M["city"],
                       _aliases([city]), "zipcodes")
                 for (city, state), (lat, lon, n) in sorted(sums.items()))


# ---- locators ------------------------------------------------------------------
def from_pin(lat, lon) -> Location | None:
    """Locate a shared pin (WhatsApp Latitude/Longitude)."""
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):  # a malformed pin is no pin
        return None
    return _point(la, lo, PRECISION_M["exact"], f"{la:.5f},{lo:.5f}", "pin", 1.0) if _valid(la, lo) else None


_NUM = r"[-+]?\d{1,3}(?:\.\d+)?"
_PAIR_RE = re.compile(rf"({_NUM})\s*,\s*({_NUM})")
_URL_RE = re.compile(r"(?:https?://|geo:)\S+", re.I)
_AT_RE = re.compile(rf"/@({_NUM}),({_NUM}),(\d+(?:\.\d+)?)z")
_PLACE_DATA_RE = re.compile(rf"!3d({_NUM})!4d({_NUM})")
_OSM_HASH_RE = re.compile(rf"map=(\d+)/({_NUM})/({_NUM})")
_SHORT_HOSTS = ("goo.gl", "maps.app.goo.gl", "g.co", "bit.ly")
_EXACT_PARAMS = ("q", "query", "ll", "daddr", "destination", "coordinate", "sll", "center")


def _zoom_precision(zoom: float) -> int:
    """Precision of a map's centre at a zoom level (a viewport, not a pin)."""
    if zoom >= 17:
        return PRECISION_M["street"]
    if zoom >= 15:
        return PRECISION_M["landmark"]
    return PRECISION_M["zip"] if zoom >= 12 else PRECISION_M["city"]


def from_link(text: str, bounds=None, places: Gazetteer | None = None) -> Location | None:
    """Locate a Google, Apple or OpenStreetMap link, or a geo: URI, without any network call."""
    for url in _URL_RE.findall(text):
        decoded = unquote_plus(url)
        if decoded.lower().startswith("geo:"):
            m = _PAIR_RE.search(decoded)
            if m:
                return _coords_location(m.group(1), m.group(2), "link", 0.95)
            continue
        parts = urlsplit(url)
        host = parts.hostname or ""
        if "google" not in host and "apple" not in host and "openstreetmap" not in host and "osm.org" not in host:
            continue
        m = _PLACE_DATA_RE.search(decoded)  # Google's place data: the pin itself, not the viewport
        if m:
            return _coords_location(m.group(1), m.group(2), "link", 0.95)
        query = parse_qs(parts.query)
        if "mlat" in query and "mlon" in query:
            return _coords_location(query["mlat"][0], query["mlon"][0], "link", 0.95)
        for key in _EXACT_PARAMS:
            m = _PAIR_RE.fullmatch((query.get(key) or [""])[0].strip())
            if m:
                found = _coords_location(m.group(1), m.group(2), "link", 0.95 if key != "center" else 0.7)
                if found:
                    return found
        m = _PAIR_RE.search(parts.path.replace("+", ""))
        if m and ("/search/" in parts.path or "/place/" in parts.path or "/dir/" in parts.path):
            return _coords_location(m.group(1), m.group(2), "link", 0.9)
        m = _AT_RE.search(decoded)
        if m:
            la, lo = float(m.group(1)), float(m.group(2))
            if _valid(la, lo):
                return _point(la, lo, _zoom_precision(float(m.group(3))), f"{la:.5f},{lo:.5f}", "link", 0.7)
        m = _OSM_HASH_RE.search(parts.fragment)
        if m:
            la, lo = float(m.group(2)), float(m.group(3))
            if _valid(la, lo):
                return _point(la, lo, _zoom_precision(float(m.group(1))), f"{la:.5f},{lo:.5f}", "link", 0.7)
        # a link that names a place in words (…/place/Florence+Ave+%26+Pacific+Blvd or ?q=…)
        named = (query.get("q") or query.get("address") or query.get("query") or [""])[0]
        if not named and "/place/" in parts.path:
            named = unquote_plus(parts.path.split("/place/", 1)[1].split("/")[0])
        if named:
            found = from_names(named, bounds, places)
            if found:
                return replace(found, source="link+" + found.source)
    return None


def is_short_link(text: str) -> bool:
    """Tell whether text holds a shortened map link that only a network call could open."""
    return any((urlsplit(u).hostname or "") in _SHORT_HOSTS for u in _URL_RE.findall(text))


def _decimals(raw: str) -> int:
    return len(raw.split(".", 1)[1]) if "." in raw else 0


def _coords_location(raw_lat: str, raw_lon: str, source: str, confidence: float, bounds=None) -> Location | None:
    la, lo = float(raw_lat), float(raw_lon)
    if bounds is not None and not _in_bounds(la, lo, bounds):
        for fixed in ((la, -lo), (lo, la), (lo, -la)):  # a dropped minus sign or a swapped pair
            if _in_bounds(*fixed, bounds):
                la, lo = fixed
                break
    if not _valid(la, lo):
        return None
    digits = min(_decimals(raw_lat), _decimals(raw_lon))
    precision = {0: PRECISION_M["city"], 1: PRECISION_M["city"], 2: PRECISION_M["zip"],
                 3: PRECISION_M["street"]}.get(digits, PRECISION_M["exact"])
    return _point(la, lo, precision, f"{la:.5f},{lo:.5f}", source, confidence)


_DEG_RE = re.compile(
    r"(\d{1,2}(?:\.\d+)?)\s*°?\s*(?:(\d{1,2})\s*['′]\s*(?:(\d{1,2}(?:\.\d+)?)\s*[\"″]?)?)?\s*([NSns])[\s,;]*"
    r"(\d{1,3}(?:\.\d+)?)\s*°?\s*(?:(\d{1,2})\s*['′]\s*(?:(\d{1,2}(?:\.\d+)?)\s*[\"″]?)?)?\s*([EWOewo])\b")
_TYPED_RE = re.compile(rf"(?<![\d.])({_NUM})\s*[,;\s]\s*({_NUM})(?![\d.])")


def from_coordinates(text: str, bounds=None) -> Location | None:
    """Locate coordinates typed as text: decimal pairs, or degrees with N/S/E/W(/O)."""
    m = _DEG_RE.search(text)
    if m:
        lat = float(m.group(1)) + float(m.group(2) or 0) / 60 + float(m.group(3) or 0) / 3600
        lon = float(m.group(5)) + float(m.group(6) or 0) / 60 + float(m.group(7) or 0) / 3600
        lat = -lat if m.group(4).upper() == "S" else lat
        lon = -lon if m.group(8).upper() in ("W", "O") else lon  # O = oeste
        digits = 4 if m.group(2) else min(_decimals(m.group(1)), _decimals(m.group(5)))
        return _coords_location(f"{lat:.{digits}f}", f"{lon:.{digits}f}", "coords", 0.9)
    for m in _TYPED_RE.finditer(text):
        if "." in m.group(1) and "." in m.group(2):
            found = _coords_location(m.group(1), m.group(2), "coords", 0.9, bounds)
            if found:
                return found
    return None


_ZIP_RE = re.compile(r"(?<![\d.-])(\d{5})(?:-\d{4})?(?![\d.])")


def from_zip(text: str, bounds=None) -> Location | None:
    """Locate a US ZIP code (its centroid), only when it lies inside bounds."""
    for m in _ZIP_RE.finditer(text):
        found = zipcodes.matching(m.group(1))
        if found and found[0].get("lat"):
            z = found[0]
            la, lo = float(z["lat"]), float(z["long"])
            if _in_bounds(la, lo, bounds):
                return _point(la, lo, PRECISION_M["zip"], f"{z['city']} {z['zip_code']}", "zip", 0.8)
    return None


def _street_hits(tokens: list[str], g: Gazetteer) -> dict[str, tuple[int, int, bool]]:
    """Find the listed streets named in tokens: street id → (first word, words, exact)."""
    hits: dict[str, tuple[int, int, bool]] = {}
    for sid, (_, aliases) in g.streets.items():
        for alias in aliases:
            found = _find(alias, tokens)
            if found and (sid not in hits or len(alias) > hits[sid][1]):
                hits[sid] = (found[0], len(alias), found[1])
    return hits


def _crossing(tokens: list[str], g: Gazetteer, bounds, hits) -> Location | None:
    """Find two named streets that the gazetteer knows (or can estimate) cross."""
    if len(hits) < 2:
        return None
    named = set(hits)
    matches = [c for c in g.intersections if c[0] <= named and _in_bounds(c[2], c[3], bounds)]
    if len(matches) > 1:  # the same pair in several cities: a city named in the text decides
        cities = [c for c in matches if c[1] and _find(tuple(words(c[1])), tokens)]
        matches = cities or matches
    if not matches and len(hits) == 2:
        return _estimated_crossing(sorted(hits, key=lambda s: hits[s][0]), g, bounds)
    options = []
    for streets, city, lat, lon in matches:
        exact = all(hits[s][2] for s in streets)
        in_order = sorted(streets, key=lambda s: hits[s][0])  # as the reporter named them
        names = " & ".join(g.streets[s][0] for s in in_order)
        options.append(_point(lat, lon, PRECISION_M["street"], f"{names}, {city}".strip(", "),
                              "gazetteer", 0.9 if exact else 0.75))
    return _pick(options)


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


def _dist_m(p, q) -> float:
    """Great-circle distance in metres between two (lat, lon, ...) points."""
    la1, lo1, la2, lo2 = map(math.radians, (p[0], p[1], q[0], q[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371000.0 * math.asin(math.sqrt(h))


def _pick(options: list[Location]) -> Location | None:
    if not options:
        return None
    if len(options) == 1:
        return options[0]
    first = replace(options[0], confidence=min(options[0].confidence, 0.4))
    return replace(first, candidates=tuple(options))


def _named_places(tokens: list[str], places, bounds, street_words: set) -> Location | None:
    """Find the place whose longest alias appears in tokens; several equally good → candidates."""
    scored = []
    for place in places:
        if not _in_bounds(place.lat, place.lon, bounds):
            continue
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
    longer = [p for p in places if p not in winners and _in_bounds(p.lat, p.lon, bounds)
              and any(len(a) > len(s) and a[:len(s)] == s for a in p.aliases for s in said)]
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
    hits = _street_hits(tokens, g)
    found = _crossing(tokens, g, bounds, hits)
    if found:
        return found
    if len(hits) >= 2:  # cross streets we cannot place: "Whittier & Atlantic" is not the city of Whittier
        used = {i for start, n, _ in hits.values() for i in range(start, start + n)}
        tokens = [t for i, t in enumerate(tokens) if i not in used]
    street_words = {w for _, aliases in g.streets.values() for a in aliases for w in a}
    landmarks = [p for p in g.places if p.kind == "landmark"]
    found = _named_places(tokens, landmarks, bounds, street_words)
    if found or not with_areas:
        return found
    areas = [p for p in g.places if p.kind != "landmark" and _in_bounds(p.lat, p.lon, bounds)]
    known = {a for p in areas for a in p.aliases}  # the coordinators' name wins over the package's
    areas += [p for p in us_places(tuple(bounds) if bounds else None) if not set(p.aliases) & known]
    return _named_places(tokens, areas, bounds, street_words)


def warm(bounds=None, places: str | Path | None = None) -> None:
    """Load the gazetteer and the US place names for bounds now (about a second, once per process)."""
    load_places(places)
    us_places(tuple(bounds) if bounds else None)


def locate(text: str | None, *, lat: float | None = None, lon: float | None = None,
           bounds: tuple[float, float, float, float] | None = None,
           places: str | Path | None = None) -> Location | None:
    """Locate a pin or a text answer; None when nothing in it places it."""
    if lat is not None and lon is not None:
        found = from_pin(lat, lon)
        if found:
            return found
    text = (text or "").strip()[:500]
    if not text:
        return None
    g = load_places(places)
    return (from_link(text, bounds, g) or from_coordinates(_URL_RE.sub(" ", text), bounds)
            or from_names(text, bounds, g, with_areas=False) or from_zip(text, bounds)
            or from_names(text, bounds, g))
