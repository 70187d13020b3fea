"""What a parser sees and returns: the answer, Parsed/Rejected/Ambiguous, and word cleaning.

Shared by the parsers in inputs.py and numbers.py so neither imports the other.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ..i18n import fold

_DURATION_RE = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> int | None:
    """Turn "15m", "2h", "30s", "1d" into seconds; None when it is not one (the flows' one duration syntax)."""
    match = _DURATION_RE.match(str(value))
    return int(match.group(1)) * _UNITS[match.group(2)] if match else None


MAX_TEXT = 1600
"""Twilio's longest inbound body; anything longer is cut before parsing."""


@dataclass(frozen=True)
class Parsed:
    """An accepted answer: the value to save, its category (what branches), the raw text."""

    value: Any
    category: str
    raw: str


@dataclass(frozen=True)
class Rejected:
    """A refused answer; `reason` is an English msgid the engine translates."""

    reason: str
    raw: str = ""


@dataclass(frozen=True)
class Ambiguous:
    """An answer that fits several places; the engine asks which one."""

    candidates: tuple[dict, ...]
    raw: str


@dataclass(frozen=True)
class Answer:
    """Everything a parser may look at: the text, a pin, attachments, language, now."""

    text: str
    now: float
    lang: str = "en"
    lat: float | None = None
    lon: float | None = None
    media: tuple[str, ...] = ()
    region: str = "US"
    bounds: tuple[float, float, float, float] | None = None
    places: str | None = None  # the coordinators' gazetteer (flows/places.yaml)
    place_name: str = ""  # a shared pin's own name (WhatsApp Label/Address): what observers read

    @property
    def folded(self) -> str:
        return fold(self.text[:MAX_TEXT])


_APOSTROPHE_RE = re.compile(r"['’`´]")
_PUNCT_RE = re.compile(r"[^\w\s:/-]+")


def clean(text: str) -> str:
    """Fold a text for matching words: no case, accents, apostrophes ("don't" = "dont") or punctuation."""
    return " ".join(_PUNCT_RE.sub(" ", _APOSTROPHE_RE.sub("", fold(text))).split())


def split_words(words: str) -> list[str]:
    """Split a "1 | raid | redada" list into cleaned alternatives."""
    return list(_split_cached(words))


@functools.lru_cache(maxsize=4096)
def _split_cached(words: str) -> tuple[str, ...]:
    # Word lists are the same few hundred strings on every message: clean each once per process.
    return tuple(w for w in (clean(part) for part in words.split("|")) if w)


TOKEN_RE = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(fold(text))


def has_phrase(folded: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", folded) is not None
