"""Global keywords and triggers: a trigger with `match: anywhere` finds its words inside a text."""

from __future__ import annotations

from bot.conversation import keywords
from bot.conversation.model import Context, Globals, Pos, Text, Trigger


def test_an_anywhere_trigger_matches_a_phrase_inside_the_text():
    # keywords called inputs.has_phrase, which inputs never had: any `anywhere` trigger raised AttributeError
    pos = Pos("_globals.yaml", 1)
    trig = Trigger("rights", Text("my rights | derechos", "_globals.trigger.rights.0", pos), pos, match="anywhere")
    ctx = Context(get_flow=lambda n, v: None, translate=lambda t, lang: t.source, gettext=lambda m, lang: m, now=0)
    found = keywords.match_trigger(Globals("_globals.yaml", triggers=[trig]), "what are my rights here", ctx, ("en",))
    assert found is trig
    assert keywords.match_trigger(Globals("_globals.yaml", triggers=[trig]), "my rightsholder", ctx, ("en",)) is None
