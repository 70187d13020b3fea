"""Places given as points: WhatsApp pins, map links (parsed without any network call), typed coordinates, ZIPs."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import parse_qs, unquote_plus, urlsplit

import zipcodes

from .location import PRECISION_M, Location, _in_bounds, _point, _valid
from .match import from_names
from .places import Gazetteer


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
    precision = {0: PRECISION_M["city"], 1: PRECISION_M["city"], 2: PRECISION_M["zip"], 3: PRECISION_M["street"]}.get(
        digits, PRECISION_M["exact"]
    )
    return _point(la, lo, precision, f"{la:.5f},{lo:.5f}", source, confidence)


_DEG_RE = re.compile(
    r"(\d{1,2}(?:\.\d+)?)\s*°?\s*(?:(\d{1,2})\s*['′]\s*(?:(\d{1,2}(?:\.\d+)?)\s*[\"″]?)?)?\s*([NSns])[\s,;]*"
    r"(\d{1,3}(?:\.\d+)?)\s*°?\s*(?:(\d{1,2})\s*['′]\s*(?:(\d{1,2}(?:\.\d+)?)\s*[\"″]?)?)?\s*([EWOewo])\b"
)
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
