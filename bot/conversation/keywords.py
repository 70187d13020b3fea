"""Global keywords and flow triggers (`flows/_globals.yaml`): loading them and matching them.

Carrier keywords hijacking a flow is the worst UX elsewhere (rapidpro#519), so
words are matched on the whole message, accent- and case-folded, in all
configured languages at once (a Spanish speaker may type STOP).
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from . import inputs
from .answers import TOKEN_RE, has_phrase
from .loader import Reader, compose
from .model import Command, Context, Globals, Issue, Trigger

GLOBAL_KEYS = {"commands", "triggers", "texts", "note"}
COMMAND_KEYS = {"words", "do", "say", "language", "flow", "note"}
TRIGGER_KEYS = {"words", "flow", "match", "catch_all", "note"}
BUILTIN_COMMANDS = ("opt_out", "opt_in", "help", "language", "delete")
"""What a global command may `do`: these are the engine's own, not coordinator actions."""


def words_in_all(ctx: Context, text, languages) -> list[str]:
    """Return a word list's alternatives in English and every configured language."""
    words = inputs.split_words(text.source)
    for lang in languages:
        if lang != "en":
            for w in inputs.split_words(ctx.translate(text, lang)):
                if w not in words:
                    words.append(w)
    return words


def bare(folded: str) -> str:
    """Reduce a folded message to its words ("Stop!!" -> "stop")."""
    return " ".join(TOKEN_RE.findall(folded))


def match_command(globals_: Globals, folded: str, ctx: Context, languages) -> Command | None:
    """Return the global command a whole message is, if any ("Stop!", "ESPAÑOL", "ayuda")."""
    words = bare(folded)
    if not words or len(words) > 40:
        return None
    for cmd in globals_.commands:
        if words in words_in_all(ctx, cmd.words, languages):
            return cmd
    return None


def match_trigger(globals_: Globals, folded: str, ctx: Context, languages, exact_only: bool = False) -> Trigger | None:
    """Return the trigger a message starts with (or is, for only_word / exact_only)."""
    message = bare(folded)
    tokens = message.split()
    catch_all = None
    for trig in globals_.triggers:
        if trig.catch_all and trig.words is None:
            catch_all = catch_all or trig
            continue
        words = words_in_all(ctx, trig.words, languages)
        if message in words:
            return trig
        if exact_only or trig.match == "only_word":
            continue
        if trig.match == "first_word" and tokens and any(message.startswith(w + " ") or tokens[0] == w for w in words):
            return trig
        if trig.match == "anywhere" and any(has_phrase(message, w) for w in words):
            return trig
    return None if exact_only else catch_all


def load_globals_text(path: str, source: str) -> tuple[Globals | None, list[Issue]]:
    """Load the global keywords and triggers file."""
    root, issues = compose(path, source)
    if root is None:
        return None, issues or [Issue(path, 1, 1, "globals file is empty")]
    rd = Reader(path)
    result = Globals(path=path)
    for key, value in rd.mapping(root, "the globals file"):
        if key.value not in GLOBAL_KEYS:
            rd.err(key, f"unknown key '{key.value}' in globals (known: {', '.join(sorted(GLOBAL_KEYS))})")
        elif key.value == "commands":
            for ck, cv in rd.mapping(value, "commands"):
                cmd = _read_command(rd, ck, cv)
                if cmd:
                    result.commands.append(cmd)
        elif key.value == "triggers":
            if not isinstance(value, SequenceNode):
                rd.err(value, "triggers must be a list")
                continue
            for index, item in enumerate(value.value):
                trig = _read_trigger(rd, index, item)
                if trig:
                    result.triggers.append(trig)
        elif key.value == "texts":
            for tk, tv in rd.mapping(value, "texts"):
                text = rd.text(tv, tk.value, f"_globals.texts.{tk.value}")
                if text:
                    result.texts[tk.value] = text
    return result, rd.issues


def _read_command(rd: Reader, knode: ScalarNode, node: Node) -> Command | None:
    name = knode.value
    fields: dict[str, Any] = {}
    for k, v in rd.mapping(node, f"command '{name}'"):
        if k.value not in COMMAND_KEYS:
            rd.err(k, f"unknown key '{k.value}' in command '{name}' (known: {', '.join(sorted(COMMAND_KEYS))})")
        elif k.value == "words":
            fields["words"] = rd.text(
                v, "words", f"_globals.{name}.words", "Words that trigger this command, separated by |."
            )
        elif k.value == "say":
            fields["reply"] = rd.text(v, "say", f"_globals.{name}.say")
        elif k.value == "do":
            fields["action"] = rd.scalar(v, "do")
            if fields["action"] not in BUILTIN_COMMANDS:
                rd.err(v, f"unknown command action '{fields['action']}' (known: {', '.join(BUILTIN_COMMANDS)})")
        elif k.value in ("language", "flow"):
            fields[k.value] = rd.scalar(v, k.value)
    if not fields.get("words"):
        rd.err(knode, f"command '{name}' needs words")
        return None
    return Command(name=name, pos=rd.pos(knode), **fields)


def _read_trigger(rd: Reader, index: int, node: Node) -> Trigger | None:
    fields: dict[str, Any] = {}
    for k, v in rd.mapping(node, "trigger"):
        if k.value not in TRIGGER_KEYS:
            rd.err(k, f"unknown key '{k.value}' in trigger (known: {', '.join(sorted(TRIGGER_KEYS))})")
        elif k.value == "words":
            fields["_words_node"] = v
        elif k.value == "flow":
            fields["flow"] = rd.scalar(v, "flow")
        elif k.value == "match":
            fields["match"] = rd.scalar(v, "match")
            if fields["match"] not in ("first_word", "only_word", "anywhere"):
                rd.err(v, "match must be first_word, only_word or anywhere")
        elif k.value == "catch_all":
            fields["catch_all"] = rd.boolean(v, "catch_all")
    if not fields.get("flow"):
        rd.err(node, "trigger needs a flow")
        return None
    words_node = fields.pop("_words_node", None)
    words = (
        rd.text(
            words_node,
            "words",
            f"_globals.trigger.{fields['flow']}.{index}",
            "Words that start this flow, separated by |.",
        )
        if words_node is not None
        else None
    )
    if words is None and not fields.get("catch_all"):
        rd.err(node, "trigger needs words or catch_all: true")
        return None
    return Trigger(words=words, pos=rd.pos(node), **fields)
