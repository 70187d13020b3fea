"""Folding text for comparison: one rule for every place that matches what people type.

Reporters, observers and coordinators type with and without accents, in any case,
on phones that may drop or add marks; "SÍ", "si" and "Sí" must read the same, and
so must "Ávila" and "avila" or "Đường" and "duong". Every matcher (keywords,
observer replies, roster fields, place names) folds with this one function.
"""

from __future__ import annotations

import unicodedata

_UNDECOMPOSED = str.maketrans({"đ": "d", "ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i", "þ": "th"})
"""Letters Unicode does not split into a base letter and a mark, written plainly by people without them."""


def fold(text: str | None) -> str:
    """Lower-case, strip accents and collapse spaces, so "ESPAÑOL " matches "espanol"."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold().translate(_UNDECOMPOSED))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.split())
