"""The flow runtime: advance one session by one message, with no I/O.

Pure on purpose (STYLE 4.1): given a flow, a session and an answer it returns
the session's next state, the replies, the action to run (if the flow reached a
`do:` step) and the timers to set. `respond` does the Redis and the actions;
the terminal chat, the web chat and the tests all drive the same code.
"""

from __future__ import annotations

from typing import Any

from ..i18n import N_, fold
from . import inputs
from .answer_types import TYPES
from .inputs import Ambiguous, Answer, Parsed, Rejected
from .model import Context, Flow, Session, Step, Text, Turn
from .templates import fill, render

MAX_STEPS_PER_TURN = 60
"""A walk longer than this is a loop with no ask; the check forbids it, this stops it anyway."""


# ---- public entry points -------------------------------------------------------
def start(ctx: Context, session: Session, flow: Flow, first: Answer | None = None) -> Turn:
    """Begin a flow for a session, pre-filling answers its `prefill` steps find in the first text."""
    session.answers, session.raw, session.given = {}, {}, []
    session.started_at = ctx.now
    return _begin(ctx, session, flow, first)


def enter(ctx: Context, session: Session, flow: Flow, resume_at: str | None) -> Turn:
    """Interrupt the current flow with another, coming back to `resume_at` when it ends.

    Answers so far are kept: a rights detour must not lose a half-finished report.
    """
    if session.active:
        session.stack.append([session.flow, session.version, resume_at])
    return _begin(ctx, session, flow, None)


def _begin(ctx: Context, session: Session, flow: Flow, first: Answer | None) -> Turn:
    session.flow, session.version, session.step = flow.name, flow.version, flow.start
    session.tries, session.clarify = 0, None
    # Counters keep growing across conversations (milliseconds as a floor), so a timer
    # left from an earlier conversation never matches a new one.
    session.counter = max(session.counter + 1, int(ctx.now * 1000))
    if first is not None and first.media:
        session.answers["media"] = list(first.media)  # a photo as the first message is kept
    if first is not None and (first.text.strip() or first.lat is not None):
        for step_id in flow.prefill:
            step = flow.steps.get(step_id)
            if step is not None and step.expect is not None:
                _scan(ctx, session, flow, step, first)
    turn = Turn()
    _walk(ctx, session, flow, flow.start, turn)
    return turn


def advance(ctx: Context, session: Session, answer: Answer) -> Turn:
    """Apply one answer to the step the session waits at."""
    turn = Turn()
    session.counter += 1
    flow = ctx.get_flow(session.flow, session.version)
    step = flow.steps.get(session.step) if flow else None
    if flow is None or step is None or step.kind != "ask" or step.expect is None:
        # The flow or step vanished (never for a pinned version, but be safe): end politely.
        turn.replies.append(ctx.gettext(N_("Sorry, that conversation ended. Text again to start over."), session.lang))
        session.flow = ""
        return turn
    if answer.media and step.expect.kind != "media":
        session.answers.setdefault("media", [])
        session.answers["media"] = list(session.answers["media"]) + list(answer.media)
        if not answer.text.strip():
            turn.replies.append(ctx.gettext(N_("Photo received, thank you."), session.lang))
            _wait(ctx, session, flow, step, turn, repeat=False)
            return turn
    if answer.lat is not None and step.expect.kind != "location":
        # A pin sent before the place is asked for (people share it first): keep it for the
        # location step, which is then skipped, and ask the waiting question again.
        for other in flow.steps.values():
            if other.expect is not None and other.expect.kind == "location":
                _scan(ctx, session, flow, other, answer)
        if not answer.text.strip():
            turn.replies.append(ctx.gettext(N_("Location received, thank you."), session.lang))
            _wait(ctx, session, flow, step, turn, repeat=True)
            return turn
    if session.clarify:
        picked = _pick_candidate(session.clarify, answer)
        session.clarify = None
        if picked is not None:
            _save(ctx, session, step, Parsed(picked, picked.get("precision", "place"), answer.text))
            _walk(ctx, session, flow, _target(step, picked.get("precision", "place"), picked), turn)
            return turn
    result = parse(ctx, step, answer, session.lang)
    if isinstance(result, Ambiguous):
        session.clarify = list(result.candidates)
        options = ", ".join(f"{i} {c.get('label', '')}" for i, c in enumerate(result.candidates, 1))
        turn.replies.append(ctx.gettext(N_("Which one? Reply {options}"), session.lang).replace("{options}", options))
        _wait(ctx, session, flow, step, turn, repeat=False)
        return turn
    if isinstance(result, Rejected):
        session.tries += 1
        if session.tries > step.retries:
            _save_fallback(session, step, answer)
            target = step.on_fail or step.next
            if target is None:
                turn.replies.append(
                    _say_text(
                        ctx, session, "handoff", N_("Sorry, I couldn't understand. A person can help: {human_number}")
                    )
                )
                _finish(ctx, session, turn)
                return turn
            _walk(ctx, session, flow, target, turn)
            return turn
        if step.invalid is not None:
            turn.replies.append(render(ctx, session, flow, step.invalid))
        else:
            turn.replies.append(ctx.gettext(result.reason, session.lang))
        _wait(ctx, session, flow, step, turn, repeat=False)
        return turn
    _save(ctx, session, step, result)
    for other_id in step.also:
        also = flow.steps.get(other_id)
        if also is not None and also.expect is not None:
            _scan(ctx, session, flow, also, answer)
    _walk(ctx, session, flow, _target(step, result.category, result.value), turn)
    return turn


def resume(ctx: Context, session: Session, result: dict | None, ok: bool) -> Turn:
    """Continue after the `do:` action the last turn asked for, with its result."""
    turn = Turn()
    flow = ctx.get_flow(session.flow, session.version)
    step = flow.steps.get(session.step) if flow else None
    if flow is None or step is None:
        _finish(ctx, session, turn)
        return turn
    if ok:
        for name in step.save:
            session.answers[name] = result or {}
        target = step.next
    else:
        target = step.on_error or step.next
    _walk(ctx, session, flow, target, turn)
    return turn


def reask(ctx: Context, session: Session) -> Turn:
    """Send the waiting question again (after a language switch or HELP)."""
    turn = Turn()
    flow = ctx.get_flow(session.flow, session.version)
    step = flow.steps.get(session.step) if flow else None
    if flow is not None and step is not None and step.kind == "ask":
        _wait(ctx, session, flow, step, turn, repeat=True)
    return turn


def reminder(ctx: Context, session: Session) -> str | None:
    """Return the reminder text of the step the session waits at, if it has one."""
    flow = ctx.get_flow(session.flow, session.version)
    step = flow.steps.get(session.step) if flow else None
    if step is None or step.remind is None:
        return None
    return render(ctx, session, flow, step.remind)


def expire(ctx: Context, session: Session) -> Turn:
    """Run the flow's `on_expire` step (if any) for a session that went quiet."""
    turn = Turn()
    flow = ctx.get_flow(session.flow, session.version)
    if flow is not None and flow.on_expire:
        session.stack = []
        _walk(ctx, session, flow, flow.on_expire, turn)
    if session.active and not turn.action:
        session.flow = ""
    turn.timers = []
    return turn


# ---- parsing --------------------------------------------------------------------
def words_for(ctx: Context, text: Text, lang: str) -> list[str]:
    """Return the synonyms of a word list in the caller's language plus English."""
    words = inputs.split_words(text.source)
    if lang != "en":
        for w in inputs.split_words(ctx.translate(text, lang)):
            if w not in words:
                words.append(w)
    return words


def parse(ctx: Context, step: Step, answer: Answer, lang: str, scan: bool = False):
    """Run the step's typed parser on an answer (an ask step: it has an expect)."""
    expect = step.expect
    if expect is None:
        return Rejected(N_("Please check the format and try again."), answer.text)
    opts = {k: v for k, v in expect.options.items()}
    if expect.kind == "choice":
        options = [(o.code, words_for(ctx, o.words, lang)) for o in expect.choices]
        return inputs.choice(answer, options, multiple=bool(opts.get("multiple")), scan=scan)
    for key in ("skip", "signs"):
        if key in opts:
            opts[key] = words_for(ctx, opts[key], lang)
    return TYPES[expect.kind].parser(answer, scan=scan, **opts)


def _scan(ctx: Context, session: Session, flow: Flow, step: Step, answer: Answer) -> None:
    if all(name in session.given for name in step.save):
        return  # found in an earlier text already
    result = parse(ctx, step, answer, session.lang, scan=True)
    if isinstance(result, Parsed):
        _save(ctx, session, step, result, keep_raw=False)  # a sentence is not this question's own answer
        session.given += [name for name in step.save if name not in session.given]


def lookup(answers: dict, name: str | None) -> Any:
    """Return a saved answer by name, or a field of one by `name.field` ("where.precision")."""
    if not name:
        return None
    head, _, field_name = name.partition(".")
    value = answers.get(head)
    if field_name:
        return value.get(field_name) if isinstance(value, dict) else None
    return value


def _save(ctx: Context, session: Session, step: Step, result: Parsed, keep_raw: bool = True) -> None:
    value = result.value
    if step.expect is not None and step.expect.kind == "phone" and isinstance(value, str):
        value = {"sealed": ctx.seal(value)}  # a number is never kept clear (docs/privacy.md)
    if len(step.save) > 1 and isinstance(value, list):
        for name, item in zip(step.save, value):
            if item is None and session.answers.get(name) is not None:
                continue  # "5 agents" after "two vans" keeps the vans
            session.answers[name] = item
    else:
        for name in step.save:
            session.answers[name] = value
    for name in step.save:
        session.raw[name] = result.raw[: inputs.MAX_TEXT]
    if step.keep_raw and keep_raw:
        session.answers[step.keep_raw] = result.raw[: inputs.MAX_TEXT]


def _save_fallback(session: Session, step: Step, answer: Answer) -> None:
    raw = answer.text[: inputs.MAX_TEXT]
    fallback: Any = {"raw": raw} if step.expect is not None and step.expect.kind == "location" else None
    for name in step.save:
        session.answers[name] = fallback
        session.raw[name] = raw


def _target(step: Step, category: str, value: Any) -> str | None:
    if category in step.cases:
        return step.cases[category]
    if isinstance(value, (str, int)) and str(value) in step.cases:
        return step.cases[str(value)]
    return step.next


def _pick_candidate(candidates: list[dict], answer: Answer) -> dict | None:
    numbers = inputs.find_numbers(answer.text)
    if numbers and 1 <= numbers[0] <= len(candidates) and len(answer.text.strip()) <= 3:
        return candidates[numbers[0] - 1]
    folded = answer.folded
    hits = [c for c in candidates if folded and folded in fold(str(c.get("label", "")))]
    return hits[0] if len(hits) == 1 else None


# ---- walking ----------------------------------------------------------------------
def _walk(ctx: Context, session: Session, flow: Flow, step_id: str | None, turn: Turn) -> None:
    for _ in range(MAX_STEPS_PER_TURN):
        if step_id is None:
            caller = _return(ctx, session, turn)
            if caller is None:
                return
            flow, step_id = caller, session.step
            continue
        step = flow.steps.get(step_id)
        if step is None:
            turn.replies.append(_sorry(ctx, session))
            _finish(ctx, session, turn)
            return
        session.step = step.id
        if step.kind == "ask":
            if step.save and all(name in session.given for name in step.save):
                value = session.answers[step.save[0]]
                step_id = _target(step, str(value), value)
                continue
            if step.default is not None:
                result = parse(
                    ctx, step, Answer(step.default, ctx.now, session.lang, bounds=ctx.bounds, places=ctx.places), "en"
                )
                if isinstance(result, Parsed):
                    _save(ctx, session, step, result)
                step_id = step.next
                continue
            session.tries = 0
            _wait(ctx, session, flow, step, turn, repeat=True)
            return
        if step.kind == "say":
            turn.replies.append(render(ctx, session, flow, step.text))
            step_id = None if "end" in step.refs else step.next
            continue
        if step.kind == "set":
            session.answers.update(step.values)
            step_id = step.next
            continue
        if step.kind == "branch":
            value = lookup(session.answers, step.branch_on or "")
            if isinstance(value, list):
                value = value[0] if value else None
            # `any` matches every saved value ("a ZIP was given"); codes match themselves.
            step_id = step.cases.get(str(value)) or step.cases.get("any", step.next) if value is not None else step.next
            continue
        if step.kind == "do":
            turn.action = step.action
            return
        if step.kind == "flow":
            sub = ctx.get_flow(step.subflow or "", None)
            if sub is None:
                step_id = step.next
                continue
            session.stack.append([flow.name, flow.version, step.next])
            session.flow, session.version = sub.name, sub.version
            flow, step_id = sub, sub.start
            continue
        if step.kind == "end":
            step_id = None
            continue
    turn.replies.append(_sorry(ctx, session))  # a loop with no ask: stop it and offer a person
    _finish(ctx, session, turn)


def _return(ctx: Context, session: Session, turn: Turn) -> Flow | None:
    while session.stack:
        name, version, step_id = session.stack.pop()
        caller = ctx.get_flow(name, version)
        if caller is not None and step_id:
            session.flow, session.version, session.step = name, version, step_id
            return caller
    _finish(ctx, session, turn)
    return None


def _finish(ctx: Context, session: Session, turn: Turn) -> None:
    session.flow, session.step, session.stack, session.clarify = "", "", [], None
    turn.timers = []


def _wait(ctx: Context, session: Session, flow: Flow, step: Step, turn: Turn, repeat: bool) -> None:
    if repeat and step.text is not None:
        turn.replies.append(render(ctx, session, flow, step.text))
    turn.timers = []
    if step.timeout_s and step.remind is not None:
        turn.timers.append(("remind", step.timeout_s))
    if flow.on_expire and flow.expire_s:
        turn.timers.append(("expire", flow.expire_s))


def _sorry(ctx: Context, session: Session) -> str:
    """Return the reply for a flow that cannot go on: an apology and the human number."""
    return fill(
        ctx,
        session,
        None,
        ctx.gettext(N_("Sorry, something went wrong. A person can help: {human_number}"), session.lang),
    )


def _say_text(ctx: Context, session: Session, key: str, default_msgid: str) -> str:
    text = ctx.texts.get(key)
    if text is not None:
        return fill(ctx, session, None, ctx.translate(text, session.lang))
    return fill(ctx, session, None, ctx.gettext(default_msgid, session.lang))
