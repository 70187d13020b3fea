"""Typed answer parsers: a texter's words in, `Parsed`, `Rejected` or `Ambiguous` out.

People answer on a phone keyboard, in two languages, with typos; a garbled
answer is not an exception (STYLE 4.5): every parser returns a value and never
raises on text. What is saved is a fixed code or a plain value, never
translated text (rapidpro#1598). Rejection reasons are English msgids that the
engine translates.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

import phonenumbers

from .. import geo
from ..i18n import N_, fold
from .answers import MAX_TEXT, Ambiguous, Answer, Parsed, Rejected, clean, split_words, tokens
from .numbers import datetime, find_numbers, number, zone

__all__ = [
    "MAX_TEXT",
    "Ambiguous",
    "Answer",
    "Parsed",
    "Rejected",
    "choice",
    "clean",
    "datetime",
    "find_numbers",
    "location",
    "media",
    "number",
    "phone",
    "split_words",
    "text",
    "yes_no",
    "zone",
]


# ---- choice ----------------------------------------------------------------
def choice(
    answer: Answer, options: list[tuple[str, list[str]]], multiple: bool = False, scan: bool = False
) -> Parsed | Rejected:
    """Pick option codes by number, word, phrase or a close misspelling.

    `options` is [(code, folded words)] with the caller's language and English
    merged (people code-switch). `scan` looks for a word inside a longer text
    (pre-filling from a first message) and never guesses misspellings.
    """
    folded = clean(answer.text[:MAX_TEXT])
    if not folded:
        return Rejected(N_("Please reply with one of the options."), answer.text)
    exact = {w: code for code, words in options for w in words}
    if not scan and folded in exact:
        return _picked([exact[folded]], multiple, answer.text)
    found: list[tuple[int, str]] = []
    negated = False
    # Longest phrases first so "not sure" wins over "no" (and "no se" over "no").
    for word in sorted(exact, key=len, reverse=True):
        if scan and word.isdigit():
            continue  # a number inside a sentence is a count or an address, not a menu pick
        if word not in folded:
            continue  # cannot match: skip two regex searches per option word (most of a first message's scan)
        pattern = _word_re(word)
        for match in pattern.finditer(folded):
            if _NEGATED_RE.search(folded, 0, match.start()):
                negated = True  # "no plates", "sin mascaras": the option is denied, not picked
                continue
            found.append((match.start(), exact[word]))
        folded = pattern.sub(lambda m: " " * len(m.group(0)), folded)
    codes: list[str] = []
    for _, code in sorted(found):  # in the order the texter wrote them
        if code not in codes:
            codes.append(code)
    if not codes and not scan and not negated:
        vocabulary = [w for w in exact if len(w) >= 4 and not w.isdigit()]
        for token in tokens(folded):
            if len(token) < 4:
                continue
            close = difflib.get_close_matches(token, vocabulary, n=1, cutoff=0.8)
            if close and exact[close[0]] not in codes:
                codes.append(exact[close[0]])
    if not codes:
        return Rejected(N_("Please reply with one of the options."), answer.text)
    if scan and not multiple and len(codes) > 1:
        # A first text naming several ("ICE agents detaining someone"): the option listed
        # first in the flow wins, so coordinators order options from most specific.
        order = [code for code, _ in options]
        codes = [min(codes, key=order.index)]
    return _picked(codes, multiple, answer.text)


NEGATORS = ("no", "not", "sin", "without", "never", "nunca", "ni", "no hay", "there are no", "there is no")
"""Words that deny the option right after them ("no plates", "sin mascaras")."""

_NEGATED_RE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in NEGATORS) + r")\s+\Z")
"""Matches a negator at the end of the text before an option word (searched with endpos = the word's start)."""


@functools.lru_cache(maxsize=4096)
def _word_re(word: str) -> re.Pattern:
    """Compile the pattern finding word as a whole word (cached: option words are few and fixed)."""
    return re.compile(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])")


def _picked(codes: list[str], multiple: bool, raw: str) -> Parsed | Rejected:
    if multiple:
        return Parsed(codes, codes[0], raw)
    if len(codes) > 1:
        return Rejected(N_("Please pick just one option."), raw)
    return Parsed(codes[0], codes[0], raw)


# ---- yes / no --------------------------------------------------------------
YES_WORDS = (
    "yes",
    "y",
    "yeah",
    "yep",
    "yup",
    "ya",
    "sure",
    "ok",
    "okay",
    "correct",
    "right",
    "si",
    "s",
    "claro",
    "correcto",
    "afirmativo",
    "simon",
    "sip",
    "dale",
    "de acuerdo",
)
NO_WORDS = ("no", "n", "nope", "nah", "not", "negative", "negativo", "nel", "para nada")
UNKNOWN_WORDS = (
    "not sure",
    "dont know",
    "don't know",
    "idk",
    "unsure",
    "maybe",
    "unknown",
    "no se",
    "no lo se",
    "quien sabe",
    "tal vez",
    "quizas",
    "ns",
    "no estoy seguro",
    "no estoy segura",
    "?",
)
"""Built-in yes/no/unknown words in English and Spanish (folded)."""


HEDGED_YES = (
    "creo que si",
    "parece que si",
    "pienso que si",
    "si creo",
    "creo",
    "i think so",
    "i think yes",
    "yes i think",
    "i think they did",
    "probably",
    "probablemente",
    "looks like it",
    "seems so",
)
HEDGED_NO = ("creo que no", "parece que no", "no creo", "i dont think so", "i think not", "probably not", "seems not")
"""A guess people send with a doubt in front ("no se, creo que si"): the guess is the answer, and it wins."""


def yes_no(
    answer: Answer, unknown: bool = False, signs: list[str] | None = None, scan: bool = False
) -> Parsed | Rejected:
    """Read yes, no (and optionally not sure) in English or Spanish.

    `signs` are phrases that mean yes for this question ("se llevaron a" for
    "is anyone detained?"). Reading a first text (`scan`) only signs count: a
    stray "si" or "no" in a sighting is not an answer to a question not asked.
    """
    sign_words = [w for w in (signs or []) if w]
    if scan:
        if not sign_words:
            return Rejected(N_("Please reply YES or NO."), answer.text)
        found = choice(answer, [("yes", sign_words)], scan=True)
        return found if isinstance(found, Parsed) else Rejected(N_("Please reply YES or NO."), answer.text)
    hedge = choice(answer, [("no", [clean(w) for w in HEDGED_NO]), ("yes", [clean(w) for w in HEDGED_YES])], scan=True)
    if isinstance(hedge, Parsed):
        return hedge
    options = [("yes", [clean(w) for w in YES_WORDS] + sign_words), ("no", [clean(w) for w in NO_WORDS])]
    if unknown:
        options.insert(0, ("unknown", [clean(w) for w in UNKNOWN_WORDS if clean(w)]))
    result = choice(answer, options, scan=scan)
    if isinstance(result, Rejected):
        return Rejected(N_("Please reply YES or NO."), answer.text)
    return result


# ---- location ----------------------------------------------------------------
_PLACE_LEAD_RE = re.compile(r"\b(?:en|at|on|in|near|by|cerca de|por|sobre|frente a)\s+(.+)$")
_TIME_TAIL_RE = re.compile(r"\s+(?:ahora|ahorita|now|right now|hace .*|\d+\s*min.*|just now)$")


SCAN_CONFIDENCE = 0.75
"""Least confidence for a place found in a first text without "at"/"en" before it."""


def location(answer: Answer, scan: bool = False) -> Parsed | Rejected | Ambiguous:
    """Place a pin, coordinates, a ZIP, an address or cross streets with geo.locate."""
    text = answer.text[:MAX_TEXT]
    tries = [text]
    if scan:
        folded = fold(text)
        match = _PLACE_LEAD_RE.search(folded)
        tries = [_TIME_TAIL_RE.sub("", match.group(1)).strip()] if match else []
        tries.append(text)  # "Pacific y Florence, migra": a place with no "at"/"en" before it
    if answer.lat is not None and answer.lon is not None:
        tries = [text or ""]
    for n, attempt in enumerate(tries):
        found = geo.locate(attempt, lat=answer.lat, lon=answer.lon, bounds=answer.bounds, places=answer.places)
        if found is None:
            continue
        if (
            scan
            and answer.lat is None
            and n == len(tries) - 1
            and not found.source.startswith(("link", "coords"))  # a map link or coordinates are never a misread word
            and found.confidence < SCAN_CONFIDENCE
        ):
            continue  # a whole sentence read as a place must be a clear match ("migraa" is not La Mirada)
        candidates = getattr(found, "candidates", ()) or ()
        if len(candidates) > 1:
            if scan:
                return Rejected(N_("I couldn't place that."), answer.text)
            return Ambiguous(tuple(_location_dict(c) for c in candidates[:4]), answer.text)
        value = _location_dict(found)
        if value.get("source") == "pin" and answer.place_name:
            value["label"] = answer.place_name  # "Home Depot, 5600 Slauson Ave", not the coordinates again
        return Parsed(value, found.precision, answer.text)
    return Rejected(
        N_(
            "I couldn't place that. Try cross streets like 'Pacific and Florence', a ZIP code, or share a location pin."
        ),
        answer.text,
    )


def _location_dict(found: Any) -> dict:
    if isinstance(found, dict):
        return {k: found[k] for k in ("lat", "lon", "precision", "precision_m", "label", "source") if k in found}
    return found.as_dict() if hasattr(found, "as_dict") else dict(found)


# ---- phone, media, text ------------------------------------------------------
def phone(answer: Answer, region: str | None = None, scan: bool = False) -> Parsed | Rejected:
    """Read a phone number with phonenumbers; the value is E.164 (the engine seals it)."""
    text = answer.text[:64]
    for match in phonenumbers.PhoneNumberMatcher(text, region or answer.region):
        if phonenumbers.is_valid_number(match.number):
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            return Parsed(e164, "phone", "")  # never keep a number as raw text
    return Rejected(N_("Please send a phone number, like 213 555 0123."), "")


def media(answer: Answer, skip: list[str] | None = None, scan: bool = False) -> Parsed | Rejected:
    """Take the photos or files sent with the message, or a word that means none."""
    if answer.media:
        return Parsed(list(answer.media), "media", answer.text)
    if skip and answer.folded in skip:
        return Parsed([], "skipped", answer.text)
    return Rejected(N_("Please send a photo, or reply SKIP."), answer.text)


def text(
    answer: Answer,
    max_length: int | None = None,
    skip: list[str] | None = None,
    pattern: str | None = None,
    scan: bool = False,
) -> Parsed | Rejected:
    """Take free text (trimmed), a word that means none, or the part matching `pattern`."""
    body = " ".join(answer.text[:MAX_TEXT].split())
    if skip and fold(body) in skip:
        return Parsed("", "skipped", answer.text)
    if pattern:
        match = re.search(pattern, body)
        if match is None:
            return Rejected(N_("Please check the format and try again."), answer.text)
        return Parsed(match.group(0), "text", answer.text)
    if not body:
        return Rejected(N_("Please reply with a few words."), answer.text)
    if max_length and len(body) > max_length:
        body = body[:max_length]
    return Parsed(body, "text", answer.text)
