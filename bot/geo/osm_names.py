"""How OpenStreetMap names become the words reporters match: which tags, which street is which.

Shared by the import (which writes the keys) and the index (which reads them),
so both sides agree on what "the same street" is.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .words import words

NAME_TAGS = ("name", "alt_name", "old_name", "short_name", "loc_name", "official_name", "name:es", "name:en")
"""Tags whose values people say; `name` first (it names the street or place on the map)."""

AREA_KINDS = {
    "city": "city",
    "town": "city",
    "village": "city",
    "municipality": "city",
    "borough": "neighborhood",
    "suburb": "neighborhood",
    "quarter": "neighborhood",
    "neighbourhood": "neighborhood",
    "hamlet": "neighborhood",
    "locality": "neighborhood",
    "7": "city",
    "8": "city",
    "9": "neighborhood",
    "10": "neighborhood",
}
"""place=* values (and admin_level of administrative boundaries) → the gazetteer kind they become."""

CITY_KINDS = frozenset({"city"})

_DIRECTION = r"(?:north|south|east|west|northeast|northwest|southeast|southwest|n|s|e|w|ne|nw|se|sw)\.?"
_LEADING_RE = re.compile(rf"^{_DIRECTION}\s+(?=\S)", re.IGNORECASE)
_TRAILING_RE = re.compile(rf"(?<=\S)\s+{_DIRECTION}$", re.IGNORECASE)


@functools.lru_cache(maxsize=65536)  # names repeat: every way of a street, every branch of a chain
def plain_name(name: str) -> str:
    """Drop a leading or trailing compass word: "West Slauson Avenue" is the Slauson people say."""
    stripped = _TRAILING_RE.sub("", _LEADING_RE.sub("", name.strip()))
    return stripped if words(stripped) else name.strip()


@functools.lru_cache(maxsize=65536)
def street_key(name: str) -> str:
    """The words that identify a street: East 7th St and West 7th St are one street, 7th."""
    return " ".join(words(plain_name(name)))


def tag_names(tags: Any) -> list[str]:
    """Every name an object carries, `name` first, without repeats (`a;b` lists split)."""
    out: list[str] = []
    for key in NAME_TAGS:
        value = tags.get(key)  # an osmium TagList or a dict
        if not value:
            continue
        for part in str(value).split(";"):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def alias_keys(names: list[str]) -> list[str]:
    """The word runs a name list can be matched by: each name as written and without its compass word."""
    keys: list[str] = []
    for name in names:
        for form in (name, plain_name(name)):
            key = " ".join(words(form))
            if key and key not in keys:
                keys.append(key)
    return keys
