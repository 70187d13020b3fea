"""One folding rule for every matcher: keywords, observer replies, roster fields, place names."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import geo, i18n, text
from bot.dispatch import replies
from bot.observers import parse

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "typed,folded",
    [
        ("SÍ", "si"),
        ("  Español  ", "espanol"),
        ("Ávila", "avila"),
        ("Đường", "duong"),
        ("Straße", "strasse"),
        (None, ""),
    ],
)
def test_fold_reads_spelling_variants_the_same(typed, folded):
    assert text.fold(typed) == folded


def test_every_matcher_folds_with_the_one_rule():
    assert i18n.fold is text.fold and geo.fold is text.fold and parse._fold is text.fold
    assert replies.fold("Sí!") == "si"  # observers' replies also drop sentence punctuation
    assert replies.fold("YES.") == "yes"


def test_no_other_module_strips_accents_by_hand():
    """A second copy of the rule drifts (four had, each a little different)."""
    copies = [
        str(p.relative_to(ROOT))
        for p in ROOT.glob("bot/**/*.py")
        if "unicodedata.combining" in p.read_text() and p.name not in ("text.py", "sms.py")
    ]
    assert copies == []  # channels/sms.py maps accents to GSM-7 letters: a different job
