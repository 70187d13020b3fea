"""Filling a flow text for one caller: translated, with saved answers shown in their language.

A choice shows its own word in the caller's language (never the code), a time
is formatted with Babel for the caller's locale, a place shows its label; the
same rules serve the engine, reminders and the checker's list of built-ins.
"""

from __future__ import annotations

import re
from typing import Any

from .answer_types import TYPES
from .model import Context, Flow, Session, Step, Text

BUILTIN_VALUES = ("human_number", "language")
"""Template values every flow may use without saving them first."""

PLACEHOLDER_RE = re.compile(r"\{([a-z_][a-z0-9_]*)(?:\.([a-z_][a-z0-9_]*))?\}")
"""A `{name}` or `{name.field}` in a flow text (the checker reads the same pattern)."""


def render(ctx: Context, session: Session, flow: Flow | None, text: Text | None) -> str:
    """Translate a flow text into the session's language and fill its placeholders."""
    if text is None:
        return ""
    return fill(ctx, session, flow, ctx.translate(text, session.lang))


def fill(ctx: Context, session: Session, flow: Flow | None, template: str) -> str:
    """Replace {name} and {name.field} with saved answers shown in the caller's language."""

    def one(match: re.Match) -> str:
        name, attr = match.group(1), match.group(2)
        if name == "language" and not attr:
            return session.lang
        if name in ctx.values and not attr:
            return str(ctx.values[name])
        value = session.answers.get(name)
        if attr and isinstance(value, dict):
            value = value.get(attr)
        return _show(ctx, session, flow, name, value)

    return PLACEHOLDER_RE.sub(one, template)


def _show(ctx: Context, session: Session, flow: Flow | None, name: str, value: Any) -> str:
    if value is None:
        return ""
    step = _saver(flow, name) if flow else None
    kind = TYPES.get(step.expect.kind) if step is not None and step.expect is not None else None
    if step is not None and kind is not None and kind.show is not None:
        shown = kind.show(step, value, session.lang, ctx.translate)
        if shown is not None:
            return shown
    if isinstance(value, dict):
        return str(value.get("label") or value.get("raw") or "")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _saver(flow: Flow, name: str) -> Step | None:
    for step in flow.steps.values():
        if name in step.save and step.expect is not None:
            return step
    return None
