"""HTTP routes of the web chat: `GET /chat` (the page) and `POST /chat/messages`.

Thin views like `webhook.py`: check the chat cookie and CSRF token → parse with
`channels/webchat` → `router.handle` → JSON. A web visitor gets the same flows,
languages and sessions as a texter; their address is `web:<chat id>`.
"""

from __future__ import annotations

import time
from functools import partial
from urllib.parse import urlparse

from babel import Locale
from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup, escape

from . import i18n, router
from .channels import webchat
from .errors import BadRequest, Forbidden
from .i18n import N_

bp = Blueprint("chat", __name__)

COOKIE = "hotline_chat"
"""Cookie holding the chat id (HttpOnly, SameSite=Strict, scoped to /chat)."""

COOKIE_MAX_AGE_S = 24 * 3600
"""Long enough to finish a report and read the answer; short enough that a shared phone forgets."""

SECURITY_HEADERS = {
    # Everything comes from this origin: no CDN, no analytics, no third-party request.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    "Cache-Control": "no-store",
}
"""Headers on every chat response; the page holds a per-browser token, so it is never cached."""


def _runtime():
    return current_app.extensions["hotline"]


def _page_language(settings) -> str:
    """Pick the page's language: ?lang= first, else the browser's Accept-Language, else English."""
    asked = request.args.get("lang", "")
    if asked in settings.languages:
        return asked
    return request.accept_languages.best_match(settings.languages) or i18n.SOURCE_LANGUAGE


def _language_names(languages) -> dict[str, str]:
    """Name each offered language in itself (Babel's CLDR data: "English", "Español")."""
    return {code: Locale.parse(code).get_display_name(code).capitalize() for code in languages}


CALL_LINE = N_("To talk to a person, call {number}.")
"""Shown under the intro when HOTLINE_HUMAN_NUMBER is set; the number becomes a tap-to-call link."""


def _call_line(settings, lang: str) -> Markup:
    """Return the translated call line with the hotline's human number as a tel: link."""
    if not settings.human_number:
        return Markup("")
    link = Markup('<a href="tel:{0}">{0}</a>').format(settings.human_number)  # format escapes
    return escape(i18n.gettext(settings.locales_dir, lang, CALL_LINE)).replace("{number}", link)


def _secure_cookie(settings) -> bool:
    return request.is_secure or (settings.public_url or "").startswith("https://")


def _same_origin() -> bool:
    """Tell whether the browser says this post comes from our own page (Fetch Metadata + Origin)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser, or an old one: the CSRF token still has to match
    allowed = {urlparse(request.host_url).netloc}
    public_url = _runtime().settings.public_url
    if public_url:
        allowed.add(urlparse(public_url).netloc)
    return urlparse(origin).netloc in allowed


def _secured(response):
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.get("/chat")
def page():
    settings = _runtime().settings
    chat_id = request.cookies.get(COOKIE)
    if not webchat.valid_chat_id(chat_id):
        chat_id = webchat.new_chat_id()
    lang = _page_language(settings)
    html = render_template(
        "chat.html",
        lang=lang,
        languages=_language_names(settings.languages),
        csrf=webchat.csrf_token(settings.secret, chat_id),
        max_chars=webchat.MAX_TEXT_CHARS,
        call_line=_call_line(settings, lang),
        _=partial(i18n.gettext, settings.locales_dir, lang),
    )
    response = current_app.response_class(html, mimetype="text/html")
    response.set_cookie(
        COOKIE,
        chat_id,
        max_age=COOKIE_MAX_AGE_S,
        path="/chat",
        httponly=True,
        samesite="Strict",
        secure=_secure_cookie(settings),
    )
    return _secured(response)


@bp.post("/chat/messages")
def post_message():
    rt = _runtime()
    chat_id = request.cookies.get(COOKIE)
    if not webchat.valid_chat_id(chat_id):
        raise Forbidden("no chat cookie: reload /chat")
    if not _same_origin() or not webchat.check_csrf(rt.settings.secret, chat_id, request.headers.get("X-CSRF-Token")):
        raise Forbidden("cross-site or stale chat post: reload /chat")
    if request.mimetype != "application/json":
        raise BadRequest("send application/json")
    if (request.content_length or 0) > webchat.MAX_REQUEST_BYTES:
        raise BadRequest("message too large")
    hint = request.accept_languages.best_match(rt.settings.languages)
    inbound = webchat.parse_inbound(request.get_data(cache=False), chat_id, hint)
    replies = router.handle(rt, inbound, time.time())
    return _secured(
        current_app.response_class(current_app.json.dumps(webchat.render_replies(replies)), mimetype="application/json")
    )
