"""Reading flow YAML into the model, keeping the line and column of every node.

PyYAML's composed node tree carries `start_mark` for every key and value, so a
coordinator's mistake is reported where they made it. The loader checks shape
(known kinds, known keys, value types) and collects every problem instead of
stopping at the first; meaning (targets, reachability, translations) is check.py's.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .answer_types import EXPECT_KINDS, STEP_KINDS, STEPS, TYPES
from .answers import parse_duration
from .model import Expect, Flow, Issue, Option, Pos, Step, Text

FLOW_KEYS = {
    "flow",
    "title",
    "base_language",
    "languages",
    "start",
    "expire",
    "on_expire",
    "draft",
    "test_numbers",
    "prefill",
    "steps",
    "note",
}
"""Keys a flow file may have at its top."""

STEP_KEYS = {kind.name: kind.keys | {kind.name, "note"} for kind in STEPS.values()}
"""Keys each step kind accepts (answer_types.STEPS)."""

EXPECT_OPTIONS = {t.name: set(t.options) for t in TYPES.values()}
"""Options each expect kind accepts (beside its kind key, or inside it for non-choices): answer_types.TYPES."""


PLACES_FILE = "places.yaml"
"""The coordinators' gazetteer that may sit among the flows: data for geo.locate, not a flow."""

_TYPE_WORDS = {(bool,): "true or false", (int,): "a whole number", (int, float): "a number", (str,): "text"}
"""How an option's YAML type is named in an error (the tuples answer_types uses)."""

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Reader:
    """Walks one composed YAML document, collecting issues with positions."""

    def __init__(self, path: str):
        self.path = path
        self.issues: list[Issue] = []

    def pos(self, node: Node) -> Pos:
        return Pos(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def err(self, node: Node | Pos, message: str) -> None:
        p = node if isinstance(node, Pos) else self.pos(node)
        self.issues.append(Issue(p.path, p.line, p.col, message))

    def mapping(self, node: Node, what: str) -> list[tuple[ScalarNode, Node]]:
        if not isinstance(node, MappingNode):
            self.err(node, f"{what} must be a mapping")
            return []
        pairs, seen = [], set()
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.err(key, f"{what} keys must be plain words")
                continue
            if key.value in seen:
                self.err(key, f"duplicate key '{key.value}' in {what}")
            seen.add(key.value)
            pairs.append((key, value))
        return pairs

    def scalar(self, node: Node, what: str) -> str | None:
        if not isinstance(node, ScalarNode):
            self.err(node, f"{what} must be a single value")
            return None
        return node.value

    def text(self, node: Node, what: str, context: str, note: str = "") -> Text | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        if not value.strip():
            self.err(node, f"{what} is empty")
        return Text(value, context, self.pos(node), note)

    def names(self, node: Node, what: str) -> tuple[str, ...]:
        if isinstance(node, ScalarNode):
            return (node.value,) if node.value else ()
        if isinstance(node, SequenceNode):
            out = []
            for item in node.value:
                value = self.scalar(item, what)
                if value:
                    out.append(value)
            return tuple(out)
        self.err(node, f"{what} must be a name or a list of names")
        return ()

    def value(self, node: Node) -> Any:
        """Construct a plain Python value from a node (for options and set values)."""
        return yaml.safe_load(yaml.serialize(node))

    def integer(self, node: Node, what: str) -> int | None:
        raw = self.scalar(node, what)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            self.err(node, f"{what} must be a whole number, got '{raw}'")
            return None

    def boolean(self, node: Node, what: str) -> bool:
        raw = (self.scalar(node, what) or "").lower()
        if raw in ("true", "yes", "on"):
            return True
        if raw not in ("false", "no", "off"):
            self.err(node, f"{what} must be true or false, got '{raw}'")
        return False

    def duration(self, node: Node, what: str) -> int | None:
        raw = self.scalar(node, what)
        seconds = parse_duration(raw) if raw is not None else None
        if raw is not None and seconds is None:
            self.err(node, f"{what} must be a duration like 30s, 15m, 2h or 1d, got '{raw}'")
        return seconds


def compose(path: str, source: str) -> tuple[Node | None, list[Issue]]:
    """Compose YAML text into a node tree, or report its syntax error with a position."""
    try:
        return yaml.compose(source, Loader=yaml.SafeLoader), []
    except yaml.MarkedYAMLError as exc:  # a syntax error: report where the parser stopped
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Issue(path, line, col, f"YAML syntax: {exc.problem or exc.context}")]


def is_flow_source(source: str) -> bool:
    """Tell a flow file from coordinator data kept beside it (a gazetteer): flows have steps or flow."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # broken YAML is reported by the loader as a flow problem
        return True
    if not isinstance(root, MappingNode):
        return True
    keys = {k.value for k, _ in root.value if isinstance(k, ScalarNode)}
    return bool(keys & {"flow", "steps", "start"}) or not keys


def version_of(source: str) -> str:
    """Return the content hash that pins a waiting session to the text it started on."""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def load_flow_text(path: str, source: str) -> tuple[Flow | None, list[Issue]]:
    """Load one flow from its YAML text; return the flow (None if unusable) and its issues."""
    root, issues = compose(path, source)
    if root is None:
        if not issues:
            issues = [Issue(path, 1, 1, "flow file is empty")]
        return None, issues
    rd = Reader(path)
    top = dict((k.value, (k, v)) for k, v in rd.mapping(root, "a flow file"))
    for key, (knode, _) in top.items():
        if key not in FLOW_KEYS:
            rd.err(knode, f"unknown key '{key}' in flow (known: {', '.join(sorted(FLOW_KEYS))})")
    name_node = top.get("flow", (None, None))[1]
    name = rd.scalar(name_node, "flow") if name_node is not None else None
    stem = Path(path).name.split(".")[0]  # "sighting.draft.yaml" is a draft of "sighting"
    if name is None:
        rd.err(rd.pos(root), "flow file needs 'flow: <name>'")
        name = stem
    elif name != stem and not stem.startswith("_") and name_node is not None:
        rd.err(name_node, f"flow name '{name}' must equal the file name '{stem}'")
    steps_node = top.get("steps", (None, None))[1]
    steps: dict[str, Step] = {}
    if steps_node is None:
        rd.err(rd.pos(root), "flow has no 'steps'")
    else:
        for knode, vnode in rd.mapping(steps_node, "steps"):
            step = _read_step(rd, name, knode, vnode)
            if step is not None:
                steps[step.id] = step
    start_node = top.get("start", (None, None))[1]
    start = rd.scalar(start_node, "start") if start_node is not None else None
    if start is None:
        start = next(iter(steps), "")
    flow = Flow(name=name, path=path, pos=rd.pos(root), start=start or "", steps=steps, version=version_of(source))
    if start_node is not None:
        flow_refs = {"start": rd.pos(start_node)}
    else:
        flow_refs = {}
    for key, (_knode, vnode) in top.items():
        if key == "title":
            flow.title = rd.scalar(vnode, "title") or ""
        elif key == "languages":
            flow.languages = rd.names(vnode, "languages")
        elif key == "expire":
            flow.expire_s = rd.duration(vnode, "expire")
        elif key == "on_expire":
            flow.on_expire = rd.scalar(vnode, "on_expire")
            flow_refs["on_expire"] = rd.pos(vnode)
        elif key == "draft":
            flow.draft = rd.boolean(vnode, "draft")
        elif key == "test_numbers":
            flow.test_numbers = rd.names(vnode, "test_numbers")
        elif key == "prefill":
            flow.prefill = rd.names(vnode, "prefill")
            flow_refs["prefill"] = rd.pos(vnode)
    flow.refs = flow_refs
    return flow, rd.issues


def _read_step(rd: Reader, flow: str, knode: ScalarNode, node: Node) -> Step | None:
    step_id = knode.value
    if not _ID_RE.match(step_id or ""):
        rd.err(knode, f"step id '{step_id}' must be snake_case (a-z, 0-9, _)")
    pairs = rd.mapping(node, f"step '{step_id}'")
    if not pairs and isinstance(node, MappingNode):
        rd.err(knode, f"step '{step_id}' is empty")
        return None
    if not pairs:
        return None
    keys = {k.value: (k, v) for k, v in pairs}
    kinds = [k for k in STEP_KINDS if k in keys and k != "end"]
    if "end" in keys and not kinds:
        kinds = ["end"]
    if not kinds:
        for key, (k, _) in keys.items():
            if key != "note":
                rd.err(k, f"unknown step kind '{key}' in step '{step_id}' (known: {', '.join(STEP_KINDS)})")
        if set(keys) <= {"note"}:
            rd.err(knode, f"step '{step_id}' needs one of: {', '.join(STEP_KINDS)}")
        return None
    if len(kinds) > 1:
        rd.err(keys[kinds[1]][0], f"step '{step_id}' has both '{kinds[0]}' and '{kinds[1]}'; a step does one thing")
    kind = kinds[0]
    allowed = STEP_KEYS[kind]
    for key, (k, _) in keys.items():
        if key not in allowed and key not in STEP_KINDS:
            rd.err(k, f"unknown key '{key}' in {kind} step '{step_id}' (known: {', '.join(sorted(allowed))})")
        elif key not in allowed:
            rd.err(k, f"'{key}' cannot be used in a {kind} step")
    ctx = f"{flow}.{step_id}"
    step = Step(id=step_id, kind=kind, pos=rd.pos(knode))
    note = keys.get("note")
    step.note = (rd.scalar(note[1], "note") or "") if note else ""
    for key, (_k, v) in keys.items():
        if key in ("ask", "say"):
            step.text = rd.text(v, key, f"{ctx}.{key}", step.note)
        elif key == "expect":
            step.expect = _read_expect(rd, ctx, v)
        elif key == "save":
            step.save = rd.names(v, "save")
            for name in step.save:
                if not _ID_RE.match(name):
                    rd.err(v, f"save name '{name}' must be snake_case")
        elif key == "keep_raw":
            step.keep_raw = rd.scalar(v, "keep_raw")
        elif key == "retries":
            retries = rd.integer(v, "retries")
            if retries is not None and not 0 <= retries <= 5:
                rd.err(v, "retries must be between 0 and 5")
            step.retries = retries if retries is not None else step.retries
        elif key == "invalid":
            step.invalid = rd.text(v, "invalid", f"{ctx}.invalid")
        elif key == "remind":
            step.remind = rd.text(v, "remind", f"{ctx}.remind")
        elif key == "timeout":
            step.timeout_s = rd.duration(v, "timeout")
        elif key in ("next", "on_fail", "on_error"):
            setattr(step, key, rd.scalar(v, key))
            step.refs[key] = rd.pos(v)
        elif key == "cases":
            for ck, cv in rd.mapping(v, "cases"):
                target = rd.scalar(cv, f"case '{ck.value}'")
                if target:
                    step.cases[str(ck.value)] = target
                    step.refs[f"cases.{ck.value}"] = rd.pos(cv)
        elif key == "also":
            step.also = rd.names(v, "also")
            step.refs["also"] = rd.pos(v)
        elif key == "default":
            step.default = rd.scalar(v, "default")
        elif key == "do":
            step.action = rd.scalar(v, "do")
            step.refs["do"] = rd.pos(v)
        elif key == "flow":
            step.subflow = rd.scalar(v, "flow")
            step.refs["flow"] = rd.pos(v)
        elif key == "branch":
            step.branch_on = rd.scalar(v, "branch")
            step.refs["branch"] = rd.pos(v)
        elif key == "set":
            for sk, sv in rd.mapping(v, "set"):
                # a code stays text: unquoted yes/no must not turn into true/false
                step.values[sk.value] = sv.value if isinstance(sv, ScalarNode) else rd.value(sv)
            step.refs["set"] = rd.pos(v)
        elif key == "end":
            if not rd.boolean(v, "end"):
                rd.err(v, "end must be true (leave it out otherwise)")
            step.refs["end"] = rd.pos(v)
    if kind == "ask" and "expect" not in keys:
        rd.err(knode, f"ask step '{step_id}' has no 'expect': every ask validates its answer")
    if kind == "ask" and not step.save:
        rd.err(knode, f"ask step '{step_id}' has no 'save': name the answer")
    if kind == "branch" and not step.cases:
        rd.err(knode, f"branch step '{step_id}' has no 'cases'")
    return step


def _read_expect(rd: Reader, ctx: str, node: Node) -> Expect | None:
    if isinstance(node, ScalarNode):
        kind, opts_node, siblings = node.value, None, []
        if kind not in EXPECT_KINDS:
            rd.err(node, f"unknown expect kind '{kind}' (known: {', '.join(EXPECT_KINDS)})")
            return None
        if kind == "choice":
            rd.err(node, 'a choice needs its options: code: "1 | word | other word"')
            return None
        return Expect(kind, {}, rd.pos(node))
    pairs = rd.mapping(node, "expect")
    kinds = [(k, v) for k, v in pairs if k.value in EXPECT_KINDS]
    if not kinds:
        for k, _ in pairs:
            rd.err(k, f"unknown expect kind '{k.value}' (known: {', '.join(EXPECT_KINDS)})")
        if not pairs:
            rd.err(node, "expect needs a kind")
        return None
    (knode, opts_node), siblings = kinds[0], [(k, v) for k, v in pairs if k is not kinds[0][0]]
    kind = knode.value
    for extra, _ in kinds[1:]:
        rd.err(extra, f"expect has two kinds '{kind}' and '{extra.value}'")
    options: dict[str, Any] = {}
    choices: list[Option] = []
    allowed = EXPECT_OPTIONS[kind]
    if kind == "choice":
        for ck, cv in rd.mapping(opts_node, "choice"):
            if not _ID_RE.match(ck.value or ""):
                rd.err(ck, f"choice code '{ck.value}' must be snake_case; it is saved, never translated")
            words = rd.text(
                cv,
                f"choice '{ck.value}'",
                f"{ctx}.choice.{ck.value}",
                "Words that pick this option, separated by |. Keep the number.",
            )
            if words is not None:
                choices.append(Option(ck.value, words, rd.pos(ck)))
        if not choices:
            rd.err(knode, "a choice needs at least one option")
    elif isinstance(opts_node, MappingNode):
        for ok, ov in rd.mapping(opts_node, kind):
            if ok.value not in allowed:
                rd.err(
                    ok,
                    f"unknown option '{ok.value}' for {kind}"
                    + (f" (known: {', '.join(sorted(allowed))})" if allowed else ""),
                )
            else:
                options[ok.value] = rd.value(ov)
    elif not (isinstance(opts_node, ScalarNode) and opts_node.value in ("", "~", "null")):
        rd.err(opts_node, f"options of {kind} must be a mapping like {{min: 1}}")
    for ok, ov in siblings:
        if ok.value not in allowed:
            rd.err(
                ok,
                f"unknown option '{ok.value}' for {kind}"
                + (f" (known: {', '.join(sorted(allowed))})" if allowed else ""),
            )
        else:
            options[ok.value] = rd.value(ov)
    for name, value in list(options.items()):
        accepted = TYPES[kind].options[name]
        if isinstance(value, bool) and bool not in accepted or not isinstance(value, accepted):
            rd.err(knode, f"option {name} of {kind} must be {_TYPE_WORDS[accepted]}, got '{value}'")
            options.pop(name)
    if kind == "number":
        lo, hi = options.get("min"), options.get("max")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
            rd.err(knode, f"number min {lo} is greater than max {hi}")
        if options.get("count", 1) not in (1, 2):
            rd.err(knode, "number count must be 1 or 2")
    if kind == "text" and "pattern" in options:
        try:
            re.compile(str(options["pattern"]))
        except re.error as exc:
            rd.err(knode, f"invalid pattern: {exc}")
            options.pop("pattern")
    if kind == "datetime" and "max_age" in options and parse_duration(options["max_age"]) is None:
        rd.err(knode, f"max_age must be a duration like 24h, got '{options['max_age']}'")
    notes = {
        "skip": "Words meaning 'nothing to send', separated by |.",
        "signs": "Phrases that mean yes to this question when found in a first text, separated by |.",
    }
    for key, note in notes.items():
        if key in options:
            options[key] = Text(str(options[key]), f"{ctx}.{kind}.{key}", rd.pos(knode), note)
    return Expect(kind, options, rd.pos(knode), tuple(choices))
