"""What a flow's paths do: the ways out of each step, what is reachable, what is saved on every path.

The graph the checks walk (check.py for structure and templates, check_actions.py
for the action contracts); pure functions of a loaded flow.
"""

from __future__ import annotations

from ..actions import FIXED
from .model import Flow, Pos, Step, Text


def edges(step: Step) -> list[tuple[str, str, Pos]]:
    """Return (label, target, position) of every way out of a step."""
    out = []
    for key in ("next", "on_fail", "on_error"):
        target = getattr(step, key)
        if target:
            out.append((key, target, step.refs.get(key, step.pos)))
    for code, target in step.cases.items():
        out.append((f"cases.{code}", target, step.refs.get(f"cases.{code}", step.pos)))
    return out


def reachable(flow: Flow) -> set[str]:
    todo = [s for s in (flow.start, flow.on_expire) if s and s in flow.steps]
    seen: set[str] = set()
    while todo:
        sid = todo.pop()
        if sid in seen:
            continue
        seen.add(sid)
        todo += [t for _, t, _ in edges(flow.steps[sid]) if t in flow.steps]
    return seen


def texts_of(step: Step) -> list[Text]:
    return [t for t in (step.text, step.invalid, step.remind) if t is not None]


def gains(step: Step) -> set[str]:
    """Return the names a step saves when it goes on normally."""
    return set(step.save) | set(step.values) | ({step.keep_raw} if step.keep_raw else set())


def saved_before(flow: Flow) -> dict[str, frozenset]:
    """Return, for each step, the names saved on every path from start (or on_expire) to it.

    A must-analysis: a step's set is what every way into it agrees on. An ask's
    `on_fail` counts as saving (the raw text is kept under its names); a `do:`
    step's `on_error` does not (the action gave no result).
    """
    steps = flow.steps
    universe = frozenset(
        {n for s in steps.values() for n in gains(s)} | {"media"} | {s.branch_on for s in steps.values() if s.branch_on}
    )
    saved_in: dict[str, frozenset] = {sid: universe for sid in steps}
    starts = [s for s in (flow.start, flow.on_expire) if s in steps]
    for s in starts:
        saved_in[s] = frozenset()
    changed = True
    while changed:
        changed = False
        for sid, step in steps.items():
            before = saved_in[sid]
            gained = gains(step)
            for label, target, _ in edges(step):
                if target not in steps or target in starts:
                    continue
                out = before | (set() if (step.kind == "do" and label == "on_error") else gained)
                if step.kind == "branch" and label.startswith("cases.") and step.branch_on:
                    out = out | {step.branch_on}  # a matched case means the value was saved
                new = saved_in[target] & out
                if new != saved_in[target]:
                    saved_in[target] = frozenset(new)
                    changed = True
    return saved_in


def saved_types(flow: Flow, name: str) -> list[tuple[Step, str]]:
    """Return each step that saves `name` with the type it saves it as (answer type, FIXED, or action)."""
    out = []
    for step in flow.steps.values():
        if name in step.save and step.kind == "ask" and step.expect is not None:
            out.append((step, step.expect.kind))
        elif name in step.save and step.kind == "do" and step.action:
            out.append((step, step.action))
        if step.keep_raw == name:
            out.append((step, "text"))
        if name in step.values:
            out.append((step, FIXED))
    return out
