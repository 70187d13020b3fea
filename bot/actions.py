"""Flow actions (`do:` steps): each declared once, next to its code, with the answers it reads.

An action owner (reports.py, alerts.py) decorates its function with `@action(...)`
naming the action, the answers it reads (their types, and which it needs) and the
fields it returns. That one declaration is both the router's table of callables
(`declared()`) and what `hotline flows check` verifies a flow against: every
answer an action needs is saved on every path to its `do:` step, by a step that
saves the type it reads. Without it, renaming `save: where` to `save: place`
passed the check and the live hotline filed every report as unplaced.

This module sits low in the layers so that owners on any layer (alerts is below
the conversation) can declare into it, and it imports none of them statically.
`declared()` imports the owner modules named in OWNERS by name the first time
it is asked, like an entry-point lookup, so the checker and the live registry
see the same table in every process (web, worker, CLI, tests).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OWNERS = ("bot.reports", "bot.alerts", "bot.debrief")
"""Modules that declare flow actions; tests/test_actions.py checks this list against the declarations."""

FIXED = "set"
"""The type of a value a `set:` step saves (a fixed code, like `detained: "yes"`)."""


@dataclass(frozen=True)
class ActionCall:
    """What a flow action receives: who, what they answered, in which language, when."""

    name: str
    contact_id: str
    e164: str  # only so an action that must text later can privacy.seal it; never stored clear
    answers: dict
    language: str
    channel: str
    now: float
    raw: dict = field(default_factory=dict)
    client: str = ""  # web chat: the keyed hash of the client's address (Inbound.client), for its flood cap


@dataclass(frozen=True)
class Reads:
    """One answer an action reads: its saved name, the types that may save it, whether it must be there.

    A type is an answer type (`location`, `choice`, `number`, ..., see
    `conversation.answer_types`), FIXED for a `set:` value, or an action's name
    for the result a `do:` step of that action saved (`report.submit`).
    """

    name: str
    types: tuple[str, ...]
    required: bool = False


def read(name: str, *types: str, required: bool = False) -> Reads:
    """Declare an answer an action reads: `read("where", "location", required=True)`."""
    return Reads(name, tuple(types), required)


@dataclass(frozen=True)
class Action:
    """A declared flow action; calling it runs the owner's function."""

    name: str
    run: Callable[[Any, ActionCall], dict]
    reads: tuple[Reads, ...] = ()
    returns: tuple[str, ...] = ()
    owner: str = ""

    def __call__(self, rt: Any, call: ActionCall) -> dict:
        return self.run(rt, call)

    def find(self, name: str) -> Reads | None:
        """Return what this action declares about one answer name, if it reads it."""
        return next((r for r in self.reads if r.name == name), None)


_declared: dict[str, Action] = {}
_loaded = False
_lock = threading.RLock()  # an owner module may ask for the table while it is being imported


def action(
    name: str, *, reads: tuple[Reads, ...] = (), returns: tuple[str, ...] = ()
) -> Callable[[Callable[[Any, ActionCall], dict]], Callable[[Any, ActionCall], dict]]:
    """Declare the decorated function as the flow action `name`; the function is returned unchanged."""

    def declare(fn: Callable[[Any, ActionCall], dict]) -> Callable[[Any, ActionCall], dict]:
        known = _declared.get(name)
        if known is not None and (known.owner, known.run.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"flow action {name!r} is declared twice: {known.owner} and {fn.__module__}")
        _declared[name] = Action(name, fn, tuple(reads), tuple(returns), fn.__module__)
        return fn

    return declare


def declared() -> dict[str, Action]:
    """Return every declared action by name, importing the owner modules on first use."""
    global _loaded
    if not _loaded:
        with _lock:
            if not _loaded:
                for module in OWNERS:
                    importlib.import_module(module)
                _loaded = True
    return dict(_declared)
