"""The action-contract check: every `do:` step against its action's declaration (bot/actions.py).

An answer the action needs must be saved on every path that reaches the step;
every step that saves an answer the action reads must save the declared type;
a `{name.field}` of an action's result must be a field it returns. This is what
catches renaming `save: where` to `save: place` before a live hotline files
every report as unplaced.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..actions import FIXED, Action
from .model import Flow, Issue
from .paths import reachable, saved_before, saved_types, texts_of
from .templates import PLACEHOLDER_RE


def check_actions(flow: Flow, actions: Mapping[str, Action]) -> list[Issue]:
    """Check every `do:` step against its action's declaration: known, and given what it reads.

    Each answer the action needs must be saved on every path that reaches the
    step, and every step that saves an answer the action reads must save the type
    it reads (a ZIP saved as a number would lose its leading zero).
    """
    issues: list[Issue] = []
    saved_in = saved_before(flow)
    reached = reachable(flow)
    known = ", ".join(sorted(actions))
    for step in flow.steps.values():
        if step.kind != "do":
            continue
        pos = step.refs.get("do", step.pos)
        declared = actions.get(step.action or "")
        if declared is None:
            issues.append(Issue(pos.path, pos.line, pos.col, f"unknown action '{step.action}' (known: {known})"))
            continue
        for need in declared.reads:
            savers = saved_types(flow, need.name) if need.name != "media" else []
            for saver, kind in savers:
                if kind not in need.types:
                    where = saver.refs.get("set", saver.pos) if kind == FIXED else saver.pos
                    issues.append(
                        Issue(
                            where.path,
                            where.line,
                            where.col,
                            f"step '{saver.id}' saves '{need.name}' as {_kind_name(kind)}, but {declared.name} "
                            f"(step '{step.id}') reads it as {' or '.join(_kind_name(t) for t in need.types)}",
                        )
                    )
            if need.required and step.id in reached and need.name not in saved_in[step.id]:
                why = "no step saves it" if not savers else "some path from start reaches the step without it"
                issues.append(
                    Issue(
                        pos.path,
                        pos.line,
                        pos.col,
                        f"{declared.name} needs '{need.name}' ({' or '.join(_kind_name(t) for t in need.types)}) "
                        f"saved before step '{step.id}': {why}",
                    )
                )
    for step in flow.steps.values():  # {report.ref}: a field the action returns
        for text in texts_of(step):
            for name, attr in PLACEHOLDER_RE.findall(text.source):
                results = [actions[k] for _, k in saved_types(flow, name) if k in actions] if attr else []
                if results and all(attr not in a.returns for a in results):
                    issues.append(
                        Issue(
                            text.pos.path,
                            text.pos.line,
                            text.pos.col,
                            f"template variable {{{name}.{attr}}}: {results[0].name} returns "
                            f"{', '.join(results[0].returns) or 'no fields'}",
                        )
                    )
    return issues


def _kind_name(kind: str) -> str:
    if kind == FIXED:
        return "a set: value"
    if "." in kind:
        return f"the result of {kind}"
    return f"a {kind} answer"
