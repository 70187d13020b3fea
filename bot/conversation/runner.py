"""One community message through keywords, the flow engine and flow actions, with Redis.

This is `conversation.respond`: the router calls it for every community text.
It reads the session and the contact's preferences in one pipeline, decides in
memory (keywords, then the pure engine), runs any `do:` action, and writes back
in one pipeline with the timers, so the webhook's hot path costs two round trips.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping

from .. import contacts, errors, i18n, privacy, store
from ..actions import ActionCall
from ..i18n import N_, fold
from . import engine, keywords, registry, sessions, templates, timers
from .context import make_context, secret, shared_text
from .inputs import MAX_TEXT, Answer
from .model import Context, Hotline, Incoming, Session, Turn

log = logging.getLogger(__name__)

OPTED_OUT_YES = ("yes",)
"""Back-in words besides the `opt_in` command's own (flows/_globals.yaml, their one home): Twilio also
re-subscribes a number that texts YES, so for a contact that opted out YES means START (for anyone else
it answers a question)."""

MAX_ACTIONS_PER_TURN = 10
"""A turn runs at most this many `do:` steps: a first text that says everything runs the early
`report.submit` and then each `report.update` its pre-filled answers pass."""


class _Conflict(Exception):
    """Another message of the same contact was answered while this one was being decided."""


def respond(
    rt: Hotline,
    contact_id: str,
    inbound: Incoming,
    now: float,
    actions: Mapping[str, Callable],
    receipt: sessions.Receipt | None = None,
    loaded: list | None = None,
) -> list[str]:
    """Answer one community message: keywords first, then the contact's flow; return reply bodies.

    With a `receipt` (the router's once-only claim of the message), the replies are
    stored with the session in one step (`sessions.Receipt`). `loaded`: the answers
    to `queue_load`, read on a round trip the caller made anyway (the router's claim).
    """
    try:
        return _respond(rt, contact_id, inbound, now, actions, receipt, force=False, loaded=loaded)
    except _Conflict:  # decide again on the session the other message left (one more load)
        return _respond(rt, contact_id, inbound, now, actions, receipt, force=True)


def queue_load(pipe, contact_id: str) -> int:
    """Queue reading what a turn needs of a contact (session, preferences, opt-out); return the answer count."""
    sessions.queue_load(pipe, contact_id)
    contacts.queue_load(pipe, contact_id)
    return LOAD_ANSWERS


LOAD_ANSWERS = 3
"""Answers `queue_load` adds to a pipeline: the session hash, the contact hash, the opt-out flag."""


def _load(
    rt: Hotline, contact_id: str, loaded: list | None = None
) -> tuple[registry.Registry, dict, Session | None, dict, bool]:
    """One round trip (none with `loaded`): the flows, the stored session (its pinned flow version fetched),
    preferences, opt-out."""
    settings = rt.settings
    reg = registry.for_folder(settings.flows_dir, settings.locales_dir)
    if loaded is None:
        pipe = rt.r.pipeline(transaction=False)
        queue_load(pipe, contact_id)
        loaded = pipe.execute()
    stored, prefs, opted_out = loaded
    session = sessions.from_hash(stored)
    if session is not None and (session.flow, session.version) not in reg.versions:
        reg.fetch_version(rt.r, session.flow, session.version)
    return reg, stored, session, prefs, bool(opted_out)


def _respond(
    rt: Hotline,
    contact_id: str,
    inbound: Incoming,
    now: float,
    actions: Mapping[str, Callable],
    receipt: sessions.Receipt | None,
    force: bool,
    loaded: list | None = None,
) -> list[str]:
    settings = rt.settings
    reg, stored, session, prefs, opted_out = _load(rt, contact_id, loaded)
    text = (inbound.body or "")[:MAX_TEXT]
    folded = fold(text)
    languages = settings.languages
    pref = prefs.get("lang") if prefs else None
    ctx = make_context(settings, reg, now, inbound.address)
    cmd = keywords.match_command(reg.globals, folded, ctx, languages)
    turn_state = _State(rt, reg, ctx, contact_id, inbound, now, actions, session or Session(), pref)
    turn_state.receipt = receipt
    turn_state.expected = "*" if force else (stored or {}).get("counter", "")
    if session is None:
        guess = pref or i18n.detect_language(text, inbound.profile_language or "en")
        turn_state.session.lang = guess if guess in languages else "en"
    if opted_out:
        if (cmd is not None and cmd.action == "opt_in") or keywords.bare(folded) in OPTED_OUT_YES:
            contacts.opt_in(rt.r, contact_id)
            return [
                shared_text(
                    ctx, "welcome_back", turn_state.session.lang, N_("You're back in. Text what you see to report it.")
                )
            ]
        return []  # opted out: send nothing (Twilio also blocks it with 21610)
    if cmd is not None:
        return turn_state.command(cmd)
    return turn_state.message(text, folded)


def begin(
    rt: Hotline,
    contact_id: str,
    flow_name: str,
    inbound: Incoming,
    now: float,
    actions: Mapping[str, Callable],
    lang: str,
    replaces: tuple[str, ...] = (),
) -> list[str] | None:
    """Start `flow_name` for a contact the hotline texts first (an observer's debrief); return its replies.

    Nobody's own conversation is ever cut short: when the contact is in the middle
    of another flow (an observer reporting a sighting of their own) nothing starts
    and None is returned, so the caller can offer it again once that one ended. A
    live session of a flow named in `replaces` (an older debrief) is replaced. An
    opted-out contact gets nothing (an empty list).
    """
    settings = rt.settings
    reg, stored, session, prefs, opted_out = _load(rt, contact_id)
    if opted_out:
        return []
    if session is not None and session.active and session.flow not in replaces:
        return None
    ctx = make_context(settings, reg, now, inbound.address)
    state = _State(rt, reg, ctx, contact_id, inbound, now, actions, session or Session(), prefs.get("lang") or lang)
    state.expected = (stored or {}).get("counter", "")
    chosen = prefs.get("lang") or lang  # a language they picked by text wins over the roster's
    state.session.lang = chosen if chosen in settings.languages else "en"
    state.session.stack = []
    try:
        return state.message("", "", start=flow_name)
    except _Conflict:  # the contact texted meanwhile: their own text wins, offer again later
        return None


class _State:
    """The mutable parts of one respond call."""

    def __init__(
        self,
        rt: Hotline,
        reg: registry.Registry,
        ctx: Context,
        contact_id: str,
        inbound: Incoming,
        now: float,
        actions: Mapping[str, Callable],
        session: Session,
        pref: str | None,
    ):
        self.rt, self.reg, self.ctx, self.contact_id, self.inbound = rt, reg, ctx, contact_id, inbound
        self.now, self.actions, self.session, self.pref = now, actions, session, pref
        self.replies: list[str] = []
        self.timers: list[tuple[str, int]] = []
        self.new_lang: str | None = None
        self.expected = "*"  # the stored counter this turn was decided on ("*" = write anyway)
        self.acted = False  # a `do:` action ran: its effects are real, so this turn must be stored
        self.receipt: sessions.Receipt | None = None  # the message's claim, written with the session

    @property
    def lang(self) -> str:
        """The language this turn answers in."""
        return self.session.lang

    # -- keywords ---------------------------------------------------------------
    def command(self, cmd) -> list[str]:
        """Carry out a global keyword (STOP, START, HELP, a language, DELETE) above any flow."""
        r, cid = self.rt.r, self.contact_id
        if cmd.action == "opt_out":
            contacts.opt_out(r, cid)
            return []
        if cmd.action == "opt_in":
            contacts.opt_in(r, cid)
            return [self._reply_of(cmd, N_("You're back in. Text what you see to report it."))]
        if cmd.action == "delete":
            if "alerts.unsubscribe" in self.actions:
                self._run_action("alerts.unsubscribe")  # sign-ups are opt-in data too
            lang = self.lang
            contacts.erase(r, cid)
            return [
                self._reply_of(
                    cmd,
                    N_(
                        "Deleted what we stored about your number. If you texted STOP "
                        "before, we keep only that, so we never text you."
                    ),
                    lang,
                )
            ]
        if cmd.action == "language" and cmd.language:
            self.session.lang = cmd.language
            self.new_lang = cmd.language
            self.replies.append(self._reply_of(cmd, N_("OK, English from now on.")))
            if self.session.active:
                self._apply(engine.reask(self.ctx, self.session))
            return self._save()
        if cmd.flow:
            return self.message("", "", start=cmd.flow)
        # help (and any command that only answers)
        self.replies.append(self._reply_of(cmd, N_("This is the community hotline. A person: {human_number}")))
        if self.session.active:
            self._apply(engine.reask(self.ctx, self.session))
            return self._save()
        return self.replies

    def _reply_of(self, cmd, fallback: str, lang: str | None = None) -> str:
        """Return a command's reply from _globals.yaml (or the code fallback), translated and filled."""
        lang = lang or self.lang
        template = self.ctx.translate(cmd.reply, lang) if cmd.reply else self.ctx.gettext(fallback, lang)
        return templates.fill(self.ctx, self.session, None, template)

    # -- flows --------------------------------------------------------------------
    def message(self, text: str, folded: str, start: str | None = None) -> list[str]:
        """Answer the waiting step, open another flow by its trigger, or start one."""
        inbound, ctx, session = self.inbound, self.ctx, self.session
        answer = Answer(
            text,
            self.now,
            session.lang,
            inbound.lat,
            inbound.lon,
            tuple(m.url for m in inbound.media),
            ctx.region,
            ctx.bounds,
            ctx.places,
            place_name=inbound.place_name,
        )
        reg_globals = self.reg.globals
        if start is None and session.active:
            trig = keywords.match_trigger(reg_globals, folded, ctx, self.rt.settings.languages, exact_only=True)
            if trig is not None and trig.flow != session.flow:
                flow = ctx.get_flow(trig.flow, None)
                if flow is not None:
                    self._apply(engine.enter(ctx, session, flow, session.step))
                    return self._save()
            self._apply(engine.advance(ctx, session, answer))
            return self._save()
        if start is None:
            trig = keywords.match_trigger(reg_globals, folded, ctx, self.rt.settings.languages)
            start = trig.flow if trig is not None else None
        flow = ctx.get_flow(start, None) if start else None
        if flow is None:
            self.replies.append(
                shared_text(ctx, "unknown", self.lang, N_("Sorry, I didn't understand. Text HELP for help."))
            )
            return self.replies
        self._apply(engine.start(ctx, session, flow, answer if text or answer.media or answer.lat else None))
        if self.pref is None:
            self.new_lang = session.lang  # the first message chose it; remember it
        return self._save()

    def _apply(self, turn: Turn) -> None:
        """Collect a turn's replies and timers, running each `do:` action it reaches."""
        for _ in range(MAX_ACTIONS_PER_TURN):
            self.replies += turn.replies
            self.timers = turn.timers  # the latest turn decides what the session waits for
            if not turn.action:
                return
            name = turn.action
            self.acted = True
            ok, result = self._run_action(name)
            turn = engine.resume(self.ctx, self.session, result, ok)
        self.replies += turn.replies
        self.timers = turn.timers

    def _call(self, name: str) -> ActionCall:
        """Build what an action receives from this turn."""
        s = self.session
        return ActionCall(
            name=name,
            contact_id=self.contact_id,
            e164=self.inbound.address,
            answers=dict(s.answers),
            language=s.lang,
            channel=self.inbound.channel,
            now=self.now,
            raw=dict(s.raw),
            client=self.inbound.client,
        )

    def _run_action(self, name: str) -> tuple[bool, dict | None]:
        """Run one flow action; (False, None) when it is missing or fails."""
        fn = self.actions.get(name)
        if fn is None:
            log.error("flow action %s is not provided; taking the step's on_error", name)
            return False, None
        try:
            return True, fn(self.rt, self._call(name)) or {}
        except store.OUTAGE_ERRORS:  # Redis is away, not the report wrong: the router spools the whole message
            raise
        except Exception as exc:  # any failure of an action must take the flow's on_error path, never drop a report
            # Type and place, not the message: an action's error can quote the caller's answers.
            log.error("flow action %s failed: %s", name, errors.where(exc))
            return False, None

    def _save(self) -> list[str]:
        """Write the session, language and timers in one pipeline; return the replies."""
        session, settings, reg = self.session, self.rt.settings, self.reg
        flow = reg.get(session.flow, session.version) if session.active else None
        ttl = sessions.ttl_s(flow, settings.session_ttl_s)
        if not self.inbound.can_text_later:
            self.timers = []  # e.g. a web chat cannot be texted later: no reminders, no expiry message
        if self.timers and session.active and not session.reply_to:
            session.reply_to = privacy.seal(secret(settings), self.inbound.address)
        pipe = self.rt.r.pipeline(transaction=True)
        expected = "*" if self.acted else self.expected
        sessions.queue_save_if_unchanged(pipe, self.contact_id, session, ttl, expected, self.receipt, self.replies)
        if self.new_lang and self.new_lang != self.pref:
            contacts.queue_set_language(pipe, self.contact_id, self.new_lang)
        if session.active:
            for kind, delay_s in self.timers:
                timers.queue_timer(self.rt, pipe, self.contact_id, session.counter, kind, self.now + delay_s)
        reg.save_versions(pipe)
        stored = pipe.execute()[0]
        if isinstance(stored, list):  # this very message was answered and stored already (a resent call)
            return json.loads(stored[1])
        if not stored:
            raise _Conflict()
        if self.receipt is not None:
            self.receipt.written = self.receipt.body(self.replies)
        return self.replies
