"""The console API's refusals: a stable `code` for scripts and tools, and `error` in the coordinator's language.

Every 4xx the console's JSON API answers is `{"error": MESSAGE, "code": CODE}`:
`code` never changes with the language (the console's scripts and outside tools
go by it), `error` is the message for a person, translated through the same
Babel catalogs as the console's labels, into the language the console pages use
(`console.language`: the switch's choice, else the browser's). English is the
source; the messages keep the wording the API always had.

The codes are listed in docs/console.md ("Errors").
"""

from __future__ import annotations

from flask import jsonify

from .. import i18n
from ..i18n import N_
from . import runtime

MESSAGES = {
    # the request itself
    "bad_request": N_("the request is not understood: send a JSON object"),
    "login_required": N_("login required"),
    "csrf": N_("missing or invalid CSRF token"),
    "rate_limited": N_("too many requests: wait a minute and try again"),
    "error": N_("That did not work. Try again."),
    # roles
    "role_incidents": N_("your role may not act on incidents"),
    "role_roster": N_("only an admin may change the roster"),
    "role_queue": N_("your role may not use the queue"),
    "role_create": N_("your role may not create incidents"),
    # incidents and their actions
    "no_such_incident": N_("no such incident"),
    "unknown_action": N_("`action` must be one of {actions}"),
    "dispatch_needs_observers": N_("dispatch needs `observers`: a list of observer names or ids"),
    "unknown_observer": N_("no observer named '{name}' on the roster"),
    "merge_needs_into": N_("merge needs `into`: the ref of the incident this one is part of"),
    "note_needs_text": N_("a note needs `text`"),
    "merge_into_itself": N_("an incident cannot be merged into itself"),
    # TRANSLATORS: {status} is a status name as the board shows it (reported, verified, closed…)
    "incident_not_open": N_("incident {ref} is {status}"),
    # TRANSLATORS: {status} and {wanted} are status names as the board shows them
    "bad_transition": N_("incident {ref} is {status}; cannot become {wanted}"),
    "unknown_status": N_("unknown status"),
    "not_held": N_("incident {ref} is not held by a flood cap: it was released already, or never held"),
    # the roster
    "no_such_observer": N_("no such observer"),
    # the queue
    "queue_gone": N_("no such item (done or expired)"),
    "queue_taken": N_("{name} already took this one"),
    "take_first": N_("take this call-back first"),
    "taken_by_another": N_("someone else took this one"),
    # calls (bot/voice/console.py)
    "no_such_call": N_("no such call"),
    "call_not_yours": N_("only the dispatcher who took the call may do this"),
    "call_needs_place": N_("place and an activity ({kinds}) are required"),
}
"""Every refusal the console API gives, by code, with its English message (a Babel msgid)."""

CSRF_PAGE = N_("Missing or invalid CSRF token: reload the page and try again.")
"""The same refusal for a form the pages post (logout), as plain text."""

STATUS_PARAMS = ("status", "wanted")
"""Parameters that are incident statuses: shown by their translated board name."""


def message(code: str, lang: str, /, **params) -> str:
    """The refusal `code` as a sentence in lang, its {placeholders} filled (statuses by their board names)."""
    from .console import STATUS_NAMES

    locales = runtime().settings.locales_dir
    values = {}
    for key, value in params.items():
        if key in STATUS_PARAMS and value in STATUS_NAMES:
            value = i18n.gettext(locales, lang, STATUS_NAMES[value])
        elif isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        values[key] = value
    msgid = CSRF_PAGE if code == "csrf_page" else MESSAGES.get(code, MESSAGES["error"])
    text = i18n.gettext(locales, lang, msgid)
    try:
        return text.format(**values) if "{" in text else text
    except (KeyError, IndexError, ValueError):  # a parameter missing: the sentence without it, never a 500
        return i18n.gettext(locales, lang, MESSAGES["error"])


def refuse(status: int, code: str, extra: dict | None = None, /, **params):
    """A JSON refusal: `{"error": translated message, "code": code}` with the HTTP status (and `extra` fields)."""
    from .console import language

    body = {**(extra or {}), "error": message(code, language(), **params), "code": code}
    return jsonify(body), status


def refuse_error(exc, status: int | None = None) -> tuple:
    """A refusal for an exception that carries `code`/`params` (bot.errors.HotlineError, handoffs.NotYours)."""
    code = getattr(exc, "code", "error")
    status = status or getattr(exc, "status", 400)
    return refuse(
        status if 400 <= status < 500 else 400, code if code in MESSAGES else "error", **getattr(exc, "params", {})
    )
