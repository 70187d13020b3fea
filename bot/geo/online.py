"""An online geocoder (geopy's Nominatim) for answers nothing offline could place; off unless configured.

Sending a reporter's words to a third party is a privacy decision the operator
makes: nothing here runs unless a geocoder spec is given, a self-hosted
Nominatim (`nominatim=https://nominatim.example.org`) keeps the words in the
network's own hands, and the cache stores only a digest of the words and the
point found. It makes a network call, so it belongs in an RQ job with its
timeout, never on the webhook's path. geopy is an optional dependency
(`pip install 'hotline[online]'`).
"""

from __future__ import annotations

import hashlib
import json
import logging

import redis

from .. import store
from .location import PRECISION_M, Location, _dist_m, _in_bounds, _point
from .words import words

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
"""Seconds one geocoder request may take (geopy's own default is 1 s, too short for a busy Nominatim)."""

CACHE_TTL_S = 7 * 86400
"""How long a found place is remembered (places do not move)."""

MISS_TTL_S = 3600
"""How long 'not found' is remembered: short, the gazetteer or the service may learn it."""

CONFIDENCE = 0.6
"""A third party's best guess at free text: good enough to send observers, worth confirming."""

USER_AGENT = "rapid-response-hotline"
"""Nominatim's usage policy requires an identifying user agent."""


def parse_spec(spec: str) -> tuple[str, str, str]:
    """Read `nominatim` or `nominatim=https://host[:port]` into (service, scheme, domain)."""
    service, _, url = spec.strip().partition("=")
    if service != "nominatim":
        raise ValueError(f"only nominatim is supported, got {service!r}")
    if not url:
        return service, "https", "nominatim.openstreetmap.org"
    scheme, _, domain = url.partition("://")
    if scheme not in ("http", "https") or not domain:
        raise ValueError(f"geocoder URL must look like https://host, got {url!r}")
    return service, scheme, domain.rstrip("/")


def _cache_key(text: str, spec: str, bounds) -> str:
    material = json.dumps([" ".join(words(text)), spec, list(bounds) if bounds else None])
    return store.geocode_cache_key(hashlib.sha256(material.encode()).hexdigest())


def _precision_m(raw: dict) -> int:
    """Half the diagonal of the answer's bounding box, within the precision classes' range."""
    try:
        south, north, west, east = (float(x) for x in raw["boundingbox"])
    except (KeyError, TypeError, ValueError):  # no box: call it a city-sized guess
        return PRECISION_M["city"]
    half = _dist_m((south, west), (north, east)) / 2
    return int(min(max(half, PRECISION_M["exact"]), PRECISION_M["city"]))


def geocode(
    r: redis.Redis,
    text: str,
    spec: str,
    *,
    bounds=None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cache_ttl_s: int = CACHE_TTL_S,
) -> Location | None:
    """Ask the configured online geocoder where text is, inside bounds, through a Redis cache."""
    if not spec or not text.strip():
        return None
    key = _cache_key(text, spec, bounds)
    cached = r.get(key)
    if cached is not None:
        return Location(**json.loads(cached)) if cached != "none" else None
    from geopy.exc import GeopyError  # optional dependency: imported only when an operator turned this on
    from geopy.geocoders import Nominatim
    from geopy.point import Point

    _, scheme, domain = parse_spec(spec)
    coder = Nominatim(user_agent=USER_AGENT, scheme=scheme, domain=domain, timeout=timeout_s)
    options: dict[str, object] = {"exactly_one": True, "addressdetails": False}
    if bounds:
        south, west, north, east = bounds
        options.update(viewbox=[Point(north, west), Point(south, east)], bounded=True)
    try:
        found = coder.geocode(text, **options)
    except GeopyError as exc:  # timeout, refusal, outage: no answer this time, and nothing cached
        log.warning("online geocoder failed", exc_info=exc)  # the log filter blanks the URL's ?q= words
        return None
    if found is None or not _in_bounds(found.latitude, found.longitude, bounds):
        r.set(key, "none", ex=MISS_TTL_S)
        return None
    label = str(found.address or "")[:80]
    place = _point(found.latitude, found.longitude, _precision_m(found.raw or {}), label, "online", CONFIDENCE)
    r.set(key, json.dumps(place.as_dict()), ex=cache_ttl_s)
    return place
