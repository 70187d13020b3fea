"""The console's pages: the board (`/dashboard`: incidents by urgency, live, with the map) and the roster.

The pages are shells: `bot/static/console*.js` fills them from the JSON API and
`/dashboard/events`, so one code path draws the first view and every update.
Text for the scripts is translated here, through the same Babel catalogs as the
texts, and handed over as a JSON data block (not a script: the CSP allows no
inline script). The UI language is the one the coordinator picked with the
switch (`?lang=`, kept in their session), else their browser's Accept-Language.
"""

from __future__ import annotations

from functools import partial

from babel import Locale
from flask import render_template, request, session
from flask_login import current_user

from .. import i18n, incidents
from ..dispatch import texts
from ..i18n import N_
from . import bp, runtime

LANG_KEY = "console_lang"
"""Session key of the language the coordinator picked with the switch."""

STATUS_NAMES = {
    "reported": N_("reported"),
    "corroborated": N_("corroborated"),
    "verified": N_("verified"),
    "unfounded": N_("unfounded"),
    "closed": N_("closed"),
}

REASONS = {
    "escalated": N_("escalated"),
    "nobody_accepted": N_("nobody accepted"),
    "observer_alone": N_("one observer alone"),
    "unplaced": N_("unplaced"),
    "unusual": N_("unusual: many new numbers at once"),
    "held": N_("not dispatched: flood cap"),
    "waiting_for_observers": N_("waiting: observers near it are at their limit"),
}
"""Why an incident needs a coordinator (bot.dispatch.board.needs_action), as the board shows it."""

QUEUED = {
    "crowded": N_("queued behind first reports: crowded area"),
    "repeat": N_("queued behind first reports: this contact's later report"),
    "later": N_("queued behind first reports"),
}
"""Why an incident's dispatch waits on the later lane (bot.dispatch.board.queued_behind), as the board shows it."""

EVENTS = {
    "created": N_("opened"),
    "report": N_("report"),
    "status": N_("status"),
    "dispatch_wave": N_("dispatch wave"),
    "dispatch_texted": N_("observer texted"),
    "dispatch_accepted": N_("observer accepted"),
    "dispatch_declined": N_("observer declined"),
    "observer_arrived": N_("observer arrived"),
    "observer_verified": N_("observer verified"),
    "observer_unfounded": N_("observer found nothing"),
    "observer_clear": N_("observer reported clear"),
    "escalated": N_("escalated to coordinators"),
    "note": N_("note"),
    "merged": N_("merged"),
    "unusual": N_("unusual burst of new reporters"),
    "held": N_("held by a flood cap"),
    "released": N_("released to dispatch"),
}
"""Timeline event kinds with a name on the board; others show their code."""

DETAILS = {
    "agents": N_("agents"),
    "vehicles": N_("vehicles"),
    "identifiers": N_("identified as"),
    "markings": N_("markings (caller's words)"),
    "detained": N_("someone detained"),
    "media": N_("photos"),
    "safe": N_("caller safe"),
    "callback": N_("call-back asked"),
    "started_at": N_("started"),
    "activity": N_("activity"),
    "debrief": N_("observers' debrief"),
}

UI = {
    "live": N_("Live · {time}"),
    "offline": N_("Not connected: retrying…"),
    "login_needed": N_("Your login ended. Log in again."),
    "failed": N_("That did not work. Try again."),
    "open_count": N_("{n} open"),
    "age_s": N_("{n} s ago"),
    "age_min": N_("{n} min ago"),
    "age_h": N_("{n} h ago"),
    "unplaced": N_("no place yet"),
    "open_incident": N_("Open incident {ref}"),
    "reporters": N_("{n} reporter(s)"),
    "texted": N_("{n} observer(s) texted"),
    "accepted_by": N_("Going: {names}"),
    "arrived_by": N_("On scene: {names}"),
    "incident": N_("Incident {ref}"),
    "timeline": N_("Timeline"),
    "f_status": N_("Status"),
    "f_kind": N_("Activity"),
    "f_place": N_("Place"),
    "f_age": N_("Opened"),
    "f_reporters": N_("Reporters"),
    "f_accepted": N_("Accepted by"),
    "f_merged_into": N_("Merged into"),
    "attached": N_("{n} attached"),
    "note_placeholder": N_("Note (optional; goes on the timeline)"),
    "a_verify": N_("Verify…"),
    "a_verify_send": N_("Verify and send the alert"),
    "a_unfounded": N_("Unfounded"),
    "a_close": N_("Close"),
    "a_reopen": N_("Reopen"),
    "a_note": N_("Add note"),
    "a_dispatch": N_("Dispatch by hand…"),
    "a_dispatch_send": N_("Text the ones picked"),
    "a_next_wave": N_("Next wave now"),
    "a_stop": N_("Stop seeking"),
    "a_merge": N_("Merge…"),
    "a_release": N_("Release to dispatch"),
    "a_merge_confirm": N_("Merge into that one"),
    "merge_into": N_("Same scene as:"),
    "alert_will_go": N_("This alert goes to {n} subscriber(s) near {area}:"),
    "alert_sent_before": N_("The alert for this incident was already sent; verifying again sends nothing new."),
    "pick_observers": N_("Observers near the incident"),
    "km": N_("{n} km"),
    "km_unknown": N_("distance unknown"),
    "on_duty": N_("on duty"),
    "off_duty": N_("off duty"),
    "open_dispatches": N_("{n} open dispatch(es)"),
    "unreachable": N_("unreachable"),
    "asked": N_("already asked: {state}"),
    "on_duty_now": N_("{n} of {total} on duty now"),
    "languages": N_("Languages"),
    "duty": N_("Duty"),
    "open": N_("Open dispatches"),
    "marks": N_("Marks"),
    "a_on": N_("Put ON duty"),
    "a_off": N_("Take OFF duty"),
    "a_clear": N_("Clear the mark"),
    "a_remove": N_("Remove"),
    "confirm_remove": N_("Remove {name} from the roster? Their number is erased."),
}
"""Everything the board's scripts write, by key."""


def language() -> str:
    """The console's language: the switch's choice, else the browser's, else English."""
    settings = runtime().settings
    asked = request.args.get("lang")
    if asked in settings.languages:
        session[LANG_KEY] = asked  # a display preference, like the web chat's ?lang=: not an action on data
    picked = session.get(LANG_KEY)
    if picked in settings.languages:
        return picked
    return request.accept_languages.best_match(settings.languages) or i18n.SOURCE_LANGUAGE


def strings(lang: str) -> dict[str, str]:
    """Every script string translated into lang, placeholders ({n}, {ref}) left for the script."""
    settings = runtime().settings
    tr = partial(i18n.gettext, settings.locales_dir, lang)
    out = {key: tr(msgid) for key, msgid in UI.items()}
    out.update({f"status_{k}": tr(v) for k, v in STATUS_NAMES.items()})
    out.update({f"reason_{k}": tr(v) for k, v in REASONS.items()})
    out.update({f"queued_{k}": tr(v) for k, v in QUEUED.items()})
    out.update({f"ev_{k}": tr(v) for k, v in EVENTS.items()})
    out.update({f"d_{k}": tr(v) for k, v in DETAILS.items()})
    out.update({f"kind_{k}": texts.kind_name(settings, lang, k) for k in incidents.KIND_NAMES})
    return out


def page(template: str, active: str, **values):
    """Render a console page with the bar (navigation, language switch, logout) in the page's language."""
    settings = runtime().settings
    lang = language()
    return render_template(
        template,
        lang=lang,
        active=active,
        languages={code: Locale.parse(code).get_display_name(code).capitalize() for code in settings.languages},
        strings=strings(lang),
        user=current_user,
        _=partial(i18n.gettext, settings.locales_dir, lang),
        **values,
    )


@bp.get("/dashboard")
def index():
    settings = runtime().settings
    return page(
        "console_board.html",
        "board",
        bounds=list(settings.bounds),
        tiles=settings.map_tiles or "",
        timezone=settings.timezone,
    )


@bp.get("/dashboard/roster")
def roster():
    return page("console_roster.html", "roster")
