"""What an SMS body costs: its encoding, its segments, and the GSM-7-safe form of a text.

One home for the GSM 03.38 tables: `hotline flows check`, `hotline flows segments`,
the sender and the fake Twilio all count the same way Twilio bills
(https://www.twilio.com/docs/glossary/what-sms-character-limit): GSM-7 fits 160
characters in one segment and 153 per segment once concatenated (extension-table
characters count twice); any other character makes the whole text UCS-2, 70 and
67 (a character outside the Basic Multilingual Plane counts twice).

Written by hand, not taken from a library: none on PyPI that the project uses
counts Twilio's way (extension table, 153/67 concatenation) and stays this small.
"""

from __future__ import annotations

import unicodedata

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = frozenset("^{}\\[~]|€\f")
"""The GSM 03.38 basic set and extension table: anything else forces UCS-2 for the whole text."""

LOOKALIKES = {"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " "}
"""Characters that force UCS-2 but have a GSM-7 twin (what Twilio's SmartEncoded replaces too)."""

GSM7_SINGLE, GSM7_CONCAT, UCS2_SINGLE, UCS2_CONCAT = 160, 153, 70, 67
"""Characters per segment: alone, and once a user-data header makes room for concatenation."""


def is_gsm7(body: str) -> bool:
    """True if every character of body is in the GSM-7 basic set or extension table."""
    return all(ch in GSM7 or ch in GSM7_EXT for ch in body)


def segments(body: str) -> tuple[int, str]:
    """Return how many SMS segments a body takes and its encoding ("GSM-7" or "UCS-2")."""
    if is_gsm7(body):
        units = sum(2 if ch in GSM7_EXT else 1 for ch in body)
        return (1 if units <= GSM7_SINGLE else -(-units // GSM7_CONCAT)), "GSM-7"
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in body)
    return (1 if units <= UCS2_SINGLE else -(-units // UCS2_CONCAT)), "UCS-2"


def gsm7_safe(body: str) -> str:
    """The same text with every character GSM-7 lacks replaced by its nearest GSM-7 form.

    Lookalikes become their twins (’ → '), and a letter GSM-7 lacks loses its accent
    (á → a, Í → I) — but é, ñ, ü, ¿ and ¡ are GSM-7 and stay. A character with no
    GSM-7 form (an emoji) is kept: the text then goes as UCS-2, as it must.
    """
    out = []
    for ch in body:
        if ch in GSM7 or ch in GSM7_EXT:
            out.append(ch)
        elif ch in LOOKALIKES:
            out.append(LOOKALIKES[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
            out.append(base if base and all(c in GSM7 for c in base) else ch)
    return "".join(out)


FOLD_LETTERS = {"es": frozenset("áíóúÁÍÓÚ")}
"""Per language, the letters GSM-7 lacks that its GSM-7-safe SMS drops the accent of.

Spanish needs only these: é, ñ, ü, ¿, ¡ (and É, Ñ, Ü) are GSM-7 and stay. A language
listed in HOTLINE_SMS_GSM7_LANGUAGES without an entry here folds every accented
letter GSM-7 lacks.
"""


def gsm7_for(body: str, languages: tuple[str, ...] | list[str]) -> str:
    """The SMS form of body when the network sends these languages GSM-7-safe (else body unchanged).

    Lookalikes (’ “ — …) always become their GSM-7 twins; letters fold only for the
    languages listed, so a network that wants accents keeps them.
    """
    if not languages:
        return body
    if any(lang not in FOLD_LETTERS for lang in languages):
        return gsm7_safe(body)
    letters = frozenset().union(*(FOLD_LETTERS[lang] for lang in languages))
    return "".join(gsm7_safe(ch) if ch in letters or ch in LOOKALIKES else ch for ch in body)
