"""Global keywords and flow triggers: which words act above every step, in every language.

Carrier keywords hijacking a flow is the worst UX elsewhere (rapidpro#519), so
words are matched on the whole message, accent- and case-folded, in all
configured languages at once (a Spanish speaker may type STOP).
"""
from __future__ import annotations

from . import inputs
from .engine import Context
from .model import Command, Globals, Trigger


def words_in_all(ctx: Context, text, languages) -> list[str]:
    """Return a word list's alternatives in English and every configured language."""
    words = inputs.split_words(text.source)
    for lang in languages:
        if lang != "en":
            for w in inputs.split_words(ctx.translate(text, lang)):
                if w not in words:
                    words.append(w)
    return words


def _bare(folded: str) -> str:
    return " ".join(inputs._TOKEN_RE.findall(folded))


def match_command(globals_: Globals, folded: str, ctx: Context, languages) -> Command | None:
    """Return the global command a whole message is, if any ("Stop!", "ESPAÑOL", "ayuda")."""
    bare = _bare(folded)
    if not bare or len(bare) > 40:
        return None
    for cmd in globals_.commands:
        if bare in words_in_all(ctx, cmd.words, languages):
            return cmd
    return None


def match_trigger(globals_: Globals, folded: str, ctx: Context, languages,
                  exact_only: bool = False) -> Trigger | None:
    """Return the trigger a message starts with (or is, for only_word / exact_only)."""
    bare = _bare(folded)
    tokens = bare.split()
    catch_all = None
    for trig in globals_.triggers:
        if trig.catch_all and trig.words is None:
            catch_all = catch_all or trig
            continue
        words = words_in_all(ctx, trig.words, languages)
        if bare in words:
            return trig
        if exact_only or trig.match == "only_word":
            continue
        if trig.match == "first_word" and tokens and any(
                bare.startswith(w + " ") or tokens[0] == w for w in words):
            return trig
        if trig.match == "anywhere" and any(inputs._has_phrase(bare, w) for w in words):
            return trig
    return None if exact_only else catch_all
