"""Static checks of flows and their translations, reported as `file:line:col: message`.

Coordinators are not programmers, and a mistake in a flow reaches people at
risk: every problem the engine could meet at run time is found here first, where
the coordinator wrote it (neither goflow nor Studio reports file:line, and
neither fails a build on a missing translation). `hotline flows check` and CI
call `check_paths`; the registry calls `check_flow` before serving a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from .. import geo
from ..actions import Action, declared
from . import inputs
from .check_actions import check_actions
from .check_texts import (
    check_code_strings,
    check_translated_collisions,
    check_translations,
    flow_texts,
    globals_texts,
    read_catalogs,
)
from .keywords import load_globals_text
from .loader import PLACES_FILE, is_flow_source, load_flow_text
from .model import Flow, Globals, Issue, Pos, Step
from .paths import edges, reachable, saved_before, texts_of
from .templates import BUILTIN_VALUES, PLACEHOLDER_RE


def check_paths(paths: list[str], locales_dir: str | None = None) -> list[Issue]:
    """Check flow files and folders (and their catalogs); return every issue sorted by position."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml"))
        elif p.exists():
            files.append(p)
        else:
            return [Issue(str(p), 0, 0, "no such file or folder")]
    globals_ = Globals(path="_globals.yaml")
    issues: list[Issue] = []
    for f in files:
        if f.name.startswith("_globals"):
            found, errs = load_globals_text(str(f), f.read_text(encoding="utf-8"))
            issues += errs
            if found is not None:
                globals_ = found
    flows: list[Flow] = []
    for f in files:
        if f.name.startswith("_globals"):
            continue
        source = f.read_text(encoding="utf-8")
        if not is_flow_source(source):
            if f.name == PLACES_FILE:  # the gazetteer beside the flows: checked by geo's own rules
                issues += [Issue(str(f), line, 0, message) for line, message in geo.check_places(f)]
            continue
        flow, errs = load_flow_text(str(f), source)
        issues += errs
        if flow is not None:
            flows.append(flow)
    names = {f.name for f in flows}
    if locales_dir is None and files:
        locales_dir = str(files[0].resolve().parent.parent / "locales")
    catalogs = read_catalogs(locales_dir, {lang for f in flows for lang in f.languages}, issues)
    for flow in flows:
        issues += check_flow(flow, globals_, names)
        issues += check_translations(flow_texts(flow), flow.languages, catalogs, flow.path)
        issues += check_translated_collisions(flow, globals_, catalogs)
    issues += _check_subflow_cycles(flows)
    for lang, (po_path, catalog) in sorted(catalogs.items()):
        issues += check_code_strings(po_path, lang, catalog)
    if any(f.name.startswith("_globals") for f in files):
        langs = tuple(sorted({lang for f in flows for lang in f.languages} | {"en"}))
        issues += check_translations(globals_texts(globals_), langs, catalogs, globals_.path)
        issues += _check_globals(globals_, names)
    return sorted(set(issues))


# ---- one flow ------------------------------------------------------------------
def _is_terminal(step: Step) -> bool:
    return step.kind == "end" or (step.kind == "say" and "end" in step.refs)


def check_flow(
    flow: Flow,
    globals_: Globals | None = None,
    flow_names: set[str] | None = None,
    actions: Mapping[str, Action] | None = None,
) -> list[Issue]:
    """Check one loaded flow's structure, templates, actions and keyword collisions.

    `actions` are the declared flow actions (default: every one declared, `bot.actions.declared()`).
    """
    issues: list[Issue] = []

    def err(pos: Pos, message: str, severity: str = "error") -> None:
        issues.append(Issue(pos.path, pos.line, pos.col, message, severity))

    steps = flow.steps
    if flow.start not in steps:
        err(flow.refs.get("start", flow.pos), f"start names no step: '{flow.start}'")
    if flow.on_expire and flow.on_expire not in steps:
        err(flow.refs["on_expire"], f"on_expire names no step: '{flow.on_expire}'")
    for step_id in flow.prefill:
        if step_id not in steps or steps[step_id].kind != "ask":
            err(flow.refs.get("prefill", flow.pos), f"prefill names no ask step: '{step_id}'")
    if flow.draft and not flow.test_numbers:
        err(flow.pos, "a draft flow needs test_numbers: the phones allowed to try it")
    for number in flow.test_numbers:
        try:
            ok = phonenumbers.is_valid_number(phonenumbers.parse(number, None))
        except phonenumbers.NumberParseException:
            ok = False
        if not ok:
            err(flow.pos, f"test number '{number}' is not a valid +E.164 number")
    for step in steps.values():
        for label, target, pos in edges(step):
            if target not in steps:
                err(pos, f"{label} of step '{step.id}' names no step: '{target}'")
        for other in step.also:
            if other not in steps or steps[other].kind != "ask":
                err(step.refs.get("also", step.pos), f"also of step '{step.id}' names no ask step: '{other}'")
        _check_exits(step, err)
        _check_expect(step, err)
        if step.kind == "flow" and flow_names is not None and step.subflow not in flow_names:
            err(step.refs.get("flow", step.pos), f"flow step '{step.id}' names no flow: '{step.subflow}'")
        if step.timeout_s and not 60 <= step.timeout_s <= (flow.expire_s or 86400) - 60:
            err(step.pos, f"timeout of step '{step.id}' must be at least 1m and end before the flow expires")
        if step.timeout_s and step.remind is None:
            err(step.pos, f"step '{step.id}' has a timeout but no remind text")
        if step.remind is not None and not step.timeout_s:
            err(step.remind.pos, f"step '{step.id}' has remind but no timeout")
    reached = reachable(flow)
    for step in steps.values():
        if step.id not in reached:
            err(step.pos, f"step '{step.id}' is unreachable from start '{flow.start}'")
    issues += _check_loops(flow, reached)
    issues += _check_endings(flow, reached)
    issues += _check_templates(flow)
    issues += check_actions(flow, declared() if actions is None else actions)
    if globals_ is not None:
        issues += _check_collisions(flow, globals_)
    return issues


def _check_exits(step: Step, err) -> None:
    if step.kind in ("say",) and not step.next and "end" not in step.refs:
        err(step.pos, f"say step '{step.id}' needs next or end: true (a path that never ends)")
    if step.kind in ("set", "do", "flow") and not step.next:
        err(step.pos, f"{step.kind} step '{step.id}' needs next")
    if step.kind == "branch" and not step.next:
        err(step.pos, f"branch step '{step.id}' needs next for values not in cases")
    if step.kind == "ask" and not step.next:
        codes = _codes(step)
        missing = [c for c in codes if c not in step.cases] if codes else ["(any answer)"]
        if missing:
            err(step.pos, f"ask step '{step.id}' needs next: no way on for {', '.join(missing)}")
        if not step.on_fail:
            err(step.pos, f"ask step '{step.id}' needs next or on_fail: a texter must never reach a dead end")
    if step.kind == "ask" and step.cases:
        codes = _codes(step)
        for code in step.cases:
            if codes and code not in codes:
                err(
                    step.refs.get(f"cases.{code}", step.pos),
                    f"case '{code}' of step '{step.id}' is not one of its codes: {', '.join(codes)}",
                )


def _codes(step: Step) -> list[str]:
    if step.expect is None:
        return []
    if step.expect.kind == "choice":
        return [o.code for o in step.expect.choices]
    if step.expect.kind == "yes_no":
        return ["yes", "no"] + (["unknown"] if step.expect.options.get("unknown") else [])
    return []


def _check_expect(step: Step, err) -> None:
    expect = step.expect
    if expect is None:
        return
    if expect.kind == "number":
        count = expect.options.get("count", 1)
        if count == 2 and len(step.save) != 2:
            err(expect.pos, f"number with count 2 saves two names, step '{step.id}' saves {len(step.save)}")
    if expect.kind == "datetime" and expect.options.get("timezone"):
        try:
            ZoneInfo(str(expect.options["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            err(expect.pos, f"unknown timezone '{expect.options['timezone']}'")
    if expect.kind == "choice":
        seen: dict[str, str] = {}
        for option in expect.choices:
            for word in inputs.split_words(option.words.source):
                if word in seen and seen[word] != option.code:
                    err(option.words.pos, f"word '{word}' picks both '{seen[word]}' and '{option.code}'")
                seen[word] = option.code


def _check_loops(flow: Flow, reachable: set[str]) -> list[Issue]:
    """Find cycles made only of steps that never wait for an answer (they would spin)."""
    issues = []
    graph = {
        sid: [t for _, t, _ in edges(s) if t in flow.steps and not flow.steps[t].waits]
        for sid, s in flow.steps.items()
        if not s.waits
    }
    reported: set[frozenset] = set()
    for start in graph:
        stack, path = [(start, iter(graph[start]))], [start]
        on_path = {start}
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                on_path.discard(path.pop())
                continue
            if nxt == start:
                cycle = frozenset(path)
                if cycle not in reported:
                    reported.add(cycle)
                    first = min((flow.steps[s] for s in path), key=lambda s: s.pos.line)
                    issues.append(
                        Issue(
                            first.pos.path,
                            first.pos.line,
                            first.pos.col,
                            f"loop with no ask: {' -> '.join(path + [start])} would repeat forever",
                        )
                    )
            elif nxt not in on_path and nxt in graph:
                stack.append((nxt, iter(graph[nxt])))
                path.append(nxt)
                on_path.add(nxt)
    return issues


def _check_endings(flow: Flow, reachable: set[str]) -> list[Issue]:
    """Find reachable steps from which no path ever reaches an end."""
    ends = {sid for sid, s in flow.steps.items() if _is_terminal(s)}
    preds: dict[str, set[str]] = {sid: set() for sid in flow.steps}
    for sid, s in flow.steps.items():
        for _, t, _ in edges(s):
            if t in preds:
                preds[t].add(sid)
    can_end, todo = set(ends), list(ends)
    while todo:
        for p in preds[todo.pop()]:
            if p not in can_end:
                can_end.add(p)
                todo.append(p)
    issues = []
    stuck = [flow.steps[s] for s in reachable - can_end]
    for step in sorted(stuck, key=lambda s: s.pos.line):
        if any(t in can_end for _, t, _ in edges(step)):
            continue
        issues.append(
            Issue(
                step.pos.path,
                step.pos.line,
                step.pos.col,
                f"no path from step '{step.id}' ever ends (add end: true somewhere after it)",
            )
        )
    return issues


def _check_templates(flow: Flow) -> list[Issue]:
    """Flag {names} used where some path from start has not saved them yet."""
    steps = flow.steps
    saved_in = saved_before(flow)
    issues = []
    reached = reachable(flow)
    for sid, step in steps.items():
        if sid not in reached:
            continue
        for text in texts_of(step):
            for name, _field in PLACEHOLDER_RE.findall(text.source):
                if name in BUILTIN_VALUES:
                    continue
                if name not in saved_in[sid] or (step.kind == "ask" and name in step.save):
                    issues.append(
                        Issue(
                            text.pos.path,
                            text.pos.line,
                            text.pos.col,
                            f"template variable {{{name}}} is used before any step saves it",
                        )
                    )
    return issues


def _command_words(globals_: Globals, flow: str | None = None) -> dict[str, tuple[str, Pos]]:
    """Map every global word to what it does; triggers of `flow` itself never interrupt it."""
    words: dict[str, tuple[str, Pos]] = {}
    for cmd in globals_.commands:
        for w in inputs.split_words(cmd.words.source):
            words[w] = (cmd.name, cmd.pos)
    for trig in globals_.triggers:
        if trig.words is not None and trig.flow != flow:
            for w in inputs.split_words(trig.words.source):
                words.setdefault(w, (f"trigger for {trig.flow}", trig.pos))
    return words


def _check_collisions(flow: Flow, globals_: Globals) -> list[Issue]:
    """Flag a choice word that is also a global keyword: the keyword would win, silently."""
    words = _command_words(globals_, flow.name)
    issues = []
    for step in flow.steps.values():
        if step.expect is None or step.expect.kind != "choice":
            continue
        for option in step.expect.choices:
            for w in inputs.split_words(option.words.source):
                if w in words:
                    name, pos = words[w]
                    issues.append(
                        Issue(
                            option.words.pos.path,
                            option.words.pos.line,
                            option.words.pos.col,
                            f"choice word '{w}' of '{option.code}' is the global keyword "
                            f"'{name}' ({Path(pos.path).name}:{pos.line})",
                        )
                    )
    return issues


def _check_subflow_cycles(flows: list[Flow]) -> list[Issue]:
    """Flag flows that enter each other in a circle (a flow: step can never come back)."""
    calls = {f.name: [(s.subflow, s) for s in f.steps.values() if s.kind == "flow"] for f in flows}
    issues = []
    for flow in flows:
        todo, seen = [(sub, step) for sub, step in calls[flow.name]], set()
        while todo:
            name, first = todo.pop()
            if name == flow.name:
                p = first.refs.get("flow", first.pos)
                issues.append(
                    Issue(
                        p.path,
                        p.line,
                        p.col,
                        f"flow '{flow.name}' enters itself through step '{first.id}' (subflow cycle)",
                    )
                )
                break
            if name in seen or name not in calls:
                continue
            seen.add(name)
            todo += [(sub, first) for sub, _ in calls[name]]
    return issues


def _check_globals(globals_: Globals, flow_names: set[str]) -> list[Issue]:
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    for cmd in globals_.commands:
        for w in inputs.split_words(cmd.words.source):
            if w in seen and seen[w] != cmd.name:
                issues.append(
                    Issue(
                        cmd.words.pos.path,
                        cmd.words.pos.line,
                        cmd.words.pos.col,
                        f"word '{w}' belongs to both '{seen[w]}' and '{cmd.name}'",
                    )
                )
            seen[w] = cmd.name
        if cmd.flow and cmd.flow not in flow_names:
            issues.append(
                Issue(cmd.pos.path, cmd.pos.line, cmd.pos.col, f"command '{cmd.name}' names no flow: '{cmd.flow}'")
            )
    for trig in globals_.triggers:
        if trig.flow not in flow_names:
            issues.append(Issue(trig.pos.path, trig.pos.line, trig.pos.col, f"trigger names no flow: '{trig.flow}'"))
    for text in globals_texts(globals_):
        for name, _field in PLACEHOLDER_RE.findall(text.source):
            if name not in BUILTIN_VALUES:
                issues.append(
                    Issue(
                        text.pos.path,
                        text.pos.line,
                        text.pos.col,
                        f"template variable {{{name}}} is not available in global replies "
                        f"(available: {', '.join(BUILTIN_VALUES)})",
                    )
                )
    return issues
