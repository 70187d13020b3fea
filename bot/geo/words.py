"""Forgiving word matching for place names: accents, case, ordinals, filler words, small typos.

English and Spanish texters write "Atlántico", "7a", "esquina de la Av. Florence";
everything is reduced to the same plain words before any comparison.
"""

from __future__ import annotations

import difflib
import functools
import re

from .. import text as text_rules

FUZZY_RATIO = 0.8
"""difflib similarity two words of 5+ letters need to count as the same (one typo in 5-9 letters)."""


_ORDINAL_WORDS = {
    "first": 1,
    "primera": 1,
    "primero": 1,
    "second": 2,
    "segunda": 2,
    "segundo": 2,
    "third": 3,
    "tercera": 3,
    "tercero": 3,
    "fourth": 4,
    "cuarta": 4,
    "fifth": 5,
    "quinta": 5,
    "sixth": 6,
    "sexta": 6,
    "seventh": 7,
    "septima": 7,
    "eighth": 8,
    "octava": 8,
    "ninth": 9,
    "novena": 9,
    "tenth": 10,
    "decima": 10,
}
_WORD_RE = re.compile(r"[^\W_]+")
"""Runs of letters or digits in any script: Đường, Улица and 대로 are words too, not just a-z."""
_ORDINAL_RE = re.compile(r"^(\d{1,3})(?:st|nd|rd|th|a|o|va|ma|ra|da|ta)$")
_STOPWORDS = frozenset(
    """
    the a an on at in of by near and or to from with is are there here corner cross crossing
    between next outside front across street st ave av avenue blvd boulevard bl rd road dr drive
    pl place way hwy highway ln lane ct court
    y e o el la los las lo de del en por cerca afuera fuera frente enfrente al sobre entre esquina
    esq con calle avenida bulevar bulevard carretera cruce hay estan esta aqui aca
""".split()
)


fold = text_rules.fold
"""Lower-case and strip accents (Ávila → avila, Đường → duong): the one rule in `bot/text.py`."""


def words(text: str) -> list[str]:
    """Split text into the words places are matched on: folded, ordinals unified, filler dropped."""
    out = []
    for raw in _WORD_RE.findall(fold(text).replace("'", "")):
        ordinal = _ORDINAL_RE.match(raw)
        if ordinal:
            raw = f"{int(ordinal.group(1))}th"
        elif raw in _ORDINAL_WORDS:
            raw = f"{_ORDINAL_WORDS[raw]}th"
        if raw not in _STOPWORDS:
            out.append(raw)
    return out


@functools.lru_cache(maxsize=65536)
def _same_word(a: str, b: str) -> bool:
    """Tell whether two words are the same allowing a typo (cached: the same pairs recur all day)."""
    if a == b:
        return True
    shorter, longer = sorted((len(a), len(b)))
    if shorter < 5 or a[0] != b[0] or a.isdigit() or b.isdigit() or 2 * shorter / (shorter + longer) < FUZZY_RATIO:
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= FUZZY_RATIO


def _find(alias: tuple[str, ...], tokens: list[str]) -> tuple[int, bool] | None:
    """Find alias words as a run in tokens; return (start, exact) or None."""
    n = len(alias)
    for start in range(len(tokens) - n + 1):
        window = tokens[start : start + n]
        if all(_same_word(a, t) for a, t in zip(alias, window)):
            return start, tuple(window) == alias
    return None
