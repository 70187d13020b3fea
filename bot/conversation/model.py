"""The flow model: plain dataclasses a loaded flow file becomes.

Kept free of YAML and Redis so the engine, the checker, the extractor and the
terminal chat all read the same shapes; every node keeps the line it came from
so a problem can be reported as `file:line:col`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: the model stays free of Redis at run time
    import redis
    from rq import Queue

    from ..config import Settings


@dataclass(frozen=True)
class Pos:
    """Where a node sits in its file (1-based line and column)."""

    path: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Text:
    """One translatable string: the English source, its msgctxt, and where it was written."""

    source: str
    context: str
    pos: Pos
    note: str = ""


@dataclass(frozen=True)
class Option:
    """One choice: the fixed code that is saved, and the words that pick it (translatable)."""

    code: str
    words: Text
    pos: Pos


@dataclass(frozen=True)
class Expect:
    """What an ask waits for: a kind, its options, and for choices the codes and words."""

    kind: str
    options: dict[str, Any]
    pos: Pos
    choices: tuple[Option, ...] = ()


@dataclass
class Step:
    """One named step of a flow; `kind` is the key that decided it (see answer_types.STEPS)."""

    id: str
    kind: str
    pos: Pos
    text: Text | None = None  # ask/say message
    expect: Expect | None = None
    save: tuple[str, ...] = ()  # names the answer (or an action's result) is saved under
    keep_raw: str | None = None  # also save the raw text under this name
    retries: int = 2
    invalid: Text | None = None
    on_fail: str | None = None
    next: str | None = None
    cases: dict[str, str] = field(default_factory=dict)
    also: tuple[str, ...] = ()  # other ask steps whose parsers also read this answer
    default: str | None = None  # ask: take this value without asking when nothing was given
    timeout_s: int | None = None
    remind: Text | None = None
    action: str | None = None  # do:
    subflow: str | None = None  # flow:
    on_error: str | None = None  # do: step taken when the action fails
    branch_on: str | None = None  # branch:
    values: dict[str, Any] = field(default_factory=dict)  # set:
    note: str = ""
    refs: dict[str, Pos] = field(default_factory=dict)  # positions of keys naming other steps

    @property
    def waits(self) -> bool:
        """Tell whether this step stops for an answer."""
        return self.kind == "ask" and self.default is None


@dataclass
class Flow:
    """A named set of steps loaded from one file, with its version hash."""

    name: str
    path: str
    pos: Pos
    start: str
    steps: dict[str, Step]
    version: str
    title: str = ""
    languages: tuple[str, ...] = ("en",)
    expire_s: int | None = None
    on_expire: str | None = None
    draft: bool = False
    test_numbers: tuple[str, ...] = ()
    prefill: tuple[str, ...] = ()  # ask steps whose parsers read the message that started the flow
    refs: dict[str, Pos] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """A global keyword: words above every step and what they do."""

    name: str
    words: Text
    pos: Pos
    action: str | None = None  # built-in: opt_out, opt_in, help, language, delete
    reply: Text | None = None
    language: str | None = None  # for language switches
    flow: str | None = None


@dataclass(frozen=True)
class Trigger:
    """A word or phrase that starts a flow when no conversation is waiting (or any time)."""

    flow: str
    words: Text | None
    pos: Pos
    match: str = "first_word"  # first_word | only_word | anywhere
    catch_all: bool = False


@dataclass
class Globals:
    """Keywords that sit above every flow, triggers that start flows, and shared replies."""

    path: str
    commands: list[Command] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    texts: dict[str, Text] = field(default_factory=dict)  # shared replies (invalid, garbled, ...)


@dataclass(frozen=True, order=True)
class Issue:
    """One problem found in a flow or catalog, sortable by position."""

    path: str
    line: int
    col: int
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.col else f"{self.path}:{self.line}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


# ---- a live conversation: what the pure engine reads and returns ---------------
@dataclass
class Session:
    """One contact's live conversation: where it is, what it has saved, its language."""

    flow: str = ""
    version: str = ""
    step: str = ""
    counter: int = 0
    tries: int = 0
    lang: str = "en"
    answers: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    stack: list[list] = field(default_factory=list)  # [flow, version, return step] of callers
    clarify: list[dict] | None = None  # places to pick from after an ambiguous answer
    given: list[str] = field(default_factory=list)  # names pre-filled from another answer: not asked
    reminded: int = -1  # counter value a reminder was already sent for
    started_at: float = 0.0
    reply_to: str | None = None  # sealed number, only when a timer may text

    @property
    def active(self) -> bool:
        return bool(self.flow)


@dataclass
class Turn:
    """What one advance produced."""

    replies: list[str] = field(default_factory=list)
    action: str | None = None  # a `do:` action to run, then `resume`
    timers: list[tuple[str, int]] = field(default_factory=list)  # (kind, seconds from now)


@dataclass
class Context:
    """What the engine may consult: flows, translations, settings values. No I/O beyond lookups."""

    get_flow: Callable[[str, str | None], Flow | None]
    translate: Callable[[Text, str], str]  # a flow text into a language
    gettext: Callable[[str, str], str]  # a code msgid into a language
    now: float
    values: dict[str, Any] = field(default_factory=dict)  # built-in template values
    region: str = "US"
    bounds: tuple[float, float, float, float] | None = None
    seal: Callable[[str], str] = lambda value: value
    texts: dict[str, Text] = field(default_factory=dict)  # shared replies from _globals
    places: str | None = None  # gazetteer path for location answers


# ---- what the conversation is handed by the layers above --------------------------
class Hotline(Protocol):
    """The runtime object (`bot.runtime.Runtime`) as the conversation uses it: settings, Redis, RQ queues."""

    @property
    def settings(self) -> Settings: ...

    @property
    def r(self) -> redis.Redis: ...

    def queue(self, name: str) -> Queue: ...


class Attachment(Protocol):
    """A photo or file sent with a message (`channels.Media`)."""

    @property
    def url(self) -> str: ...


class Incoming(Protocol):
    """One verified inbound message (`channels.Inbound`), as the conversation reads it."""

    @property
    def channel(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def can_text_later(self) -> bool: ...

    @property
    def body(self) -> str: ...

    @property
    def media(self) -> Sequence[Attachment]: ...

    @property
    def lat(self) -> float | None: ...

    @property
    def lon(self) -> float | None: ...

    @property
    def profile_language(self) -> str | None: ...

    @property
    def place_name(self) -> str: ...

    @property
    def client(self) -> str:
        """A web chat's client as a keyed hash (never an address), for its flood cap; empty elsewhere."""
        ...
