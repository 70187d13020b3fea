"""HTTP routes of the web chat: `GET /chat` (the page) and `POST /chat/messages`.

Thin views like `webhook.py`: check the chat cookie (`chat_ids`: server-issued,
signed, rotated on every answer) and CSRF token → parse with `channels/webchat` →
`router.handle` → JSON. A web visitor gets the same flows, languages and sessions
as a texter; their address is `web:<chat id>`. A cookie the server did not issue,
or one a newer cookie has replaced, gets a 403 with a fresh chat in the visitor's
language. Rate limits (`guard.limited`, Redis) are per chat and per client.
"""

from __future__ import annotations

import time
from functools import partial
from urllib.parse import urlparse

from babel import Locale
from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup, escape
from werkzeug.exceptions import TooManyRequests

from . import chat_ids, guard, i18n, privacy, router
from .channels import webchat
from .errors import BadRequest, Forbidden
from .i18n import N_

bp = Blueprint("chat", __name__)

COOKIE = "hotline_chat"
"""Cookie holding the chat id (HttpOnly, SameSite=Strict, scoped to /chat)."""

COOKIE_MAX_AGE_S = chat_ids.MAX_AGE_S
"""The cookie lives as long as its signature is accepted."""

PAGE_PERMISSIONS = "geolocation=(self), camera=(), microphone=(), payment=(), usb=()"
"""The chat page may ask for the location ("Share my location"); every other response may not (`guard`)."""

RESTARTED = N_(
    "This chat expired or was opened somewhere else, so a new one has started. "
    "Your last message did not arrive: please send it again."
)
"""The fresh start's answer to a cookie the server did not issue or has replaced."""

TOO_FAST = N_("You are sending messages faster than a person types. Wait a minute, then send again.")
"""The answer to a post over a rate limit (429)."""


def _runtime():
    return current_app.extensions["hotline"]


def _new_chat_limit() -> str:
    return _runtime().settings.chat_new_limit


def _message_limit() -> str:
    return _runtime().settings.chat_message_limit


def _client_limit() -> str:
    return _runtime().settings.chat_client_limit


def _chat_key() -> str:
    """Count a chat by the keyed hash of its address (rotation keeps the chat, so it keeps the count)."""
    settings = _runtime().settings
    cookie = chat_ids.read(settings.secret, request.cookies.get(COOKIE))
    return "chat:" + privacy.contact_id(settings.secret, cookie.address) if cookie else "client:" + guard.client_key()


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


def _reply_language(settings) -> str:
    """The visitor's language for an answer outside the flows: the page's (the script sends it), else the browser's."""
    page = request.headers.get("Content-Language", "")
    if page in settings.languages:
        return page
    return request.accept_languages.best_match(settings.languages) or i18n.SOURCE_LANGUAGE


def _mint() -> chat_ids.ChatCookie:
    """A new chat for this client, within HOTLINE_CHAT_NEW_LIMIT however it is asked for: the page, or the fresh
    start a post without a current cookie gets (a script dropping its cookie before every post had a new chat
    each time, past the page's limit). Over it: 429, in the visitor's language (`too_fast`)."""
    wait = guard.take(_new_chat_limit(), "chat-new", guard.client_key())
    if wait is not None:
        raise TooManyRequests(retry_after=int(wait) + 1)
    return chat_ids.new_chat()


def _set_cookie(response, cookie: chat_ids.ChatCookie) -> None:
    settings = _runtime().settings
    response.set_cookie(
        COOKIE,
        chat_ids.issue(settings.secret, cookie),
        max_age=COOKIE_MAX_AGE_S,
        path="/chat",
        httponly=True,
        samesite="Strict",
        secure=_secure_cookie(settings),
    )


def _json(body: dict, status: int = 200):
    return current_app.response_class(current_app.json.dumps(body), status=status, mimetype="application/json")


def _fresh_start(reason: str):
    """403 for a cookie we did not issue or have replaced, with a new chat the page can use at once."""
    settings = _runtime().settings
    cookie = _mint()
    text = i18n.gettext(settings.locales_dir, _reply_language(settings), RESTARTED)
    body = {
        "error": reason,
        "restart": True,
        "csrf": webchat.csrf_token(settings.secret, cookie.chat_id),
        "replies": [text],
    }
    response = _json(body, 403)
    _set_cookie(response, cookie)
    return response


@bp.get("/chat")
def page():
    rt = _runtime()
    settings = rt.settings
    cookie = chat_ids.read(settings.secret, request.cookies.get(COOKIE))
    if cookie is None or not chat_ids.is_current(rt.r, settings.secret, cookie):
        cookie = _mint()  # never a chat id the browser brought: only one this server issued and still honours
    lang = _page_language(settings)
    html = render_template(
        "chat.html",
        lang=lang,
        languages=_language_names(settings.languages),
        csrf=webchat.csrf_token(settings.secret, cookie.chat_id),
        max_chars=webchat.MAX_TEXT_CHARS,
        call_line=_call_line(settings, lang),
        _=partial(i18n.gettext, settings.locales_dir, lang),
    )
    response = current_app.response_class(html, mimetype="text/html")
    response.headers["Permissions-Policy"] = PAGE_PERMISSIONS
    _set_cookie(response, cookie)
    return response


@bp.post("/chat/messages")
@guard.limited(_client_limit, key=guard.client_key)
@guard.limited(_message_limit, key=_chat_key)
def post_message():
    rt = _runtime()
    secret = rt.settings.secret
    if not _same_origin():
        raise Forbidden("cross-site chat post")
    cookie = chat_ids.read(secret, request.cookies.get(COOKIE))
    if cookie is None:
        return _fresh_start("no chat this server issued: a new one has started")
    if not webchat.check_csrf(secret, cookie.chat_id, request.headers.get("X-CSRF-Token")):
        raise Forbidden("stale chat page: reload /chat")
    if request.mimetype != "application/json":
        raise BadRequest("send application/json")
    if (request.content_length or 0) > webchat.MAX_REQUEST_BYTES:
        raise BadRequest("message too large")
    hint = request.accept_languages.best_match(rt.settings.languages)
    inbound = webchat.parse_inbound(request.get_data(cache=False), cookie.chat_id, hint, client=guard.client_key())
    following = chat_ids.rotate(rt.r, secret, cookie, inbound.message_sid)
    if following is None:
        return _fresh_start("this chat continued in another browser or expired: a new one has started")
    replies = router.handle(rt, inbound, time.time())
    response = _json(webchat.render_replies(replies))
    _set_cookie(response, following)
    return response


@bp.errorhandler(429)
def too_fast(exc):
    """Over a chat limit: the visitor's language, and no retry from the page (Retry-After says when)."""
    settings = _runtime().settings
    text = i18n.gettext(settings.locales_dir, _reply_language(settings), TOO_FAST)
    wait = getattr(exc, "retry_after", None)  # a new chat over its limit (`_mint`); Flask-Limiter adds its own
    if request.method == "POST":
        response = _json({"error": "too many requests", "replies": [text]}, 429)
    else:
        response = current_app.response_class(text + "\n", status=429, content_type="text/plain; charset=utf-8")
    if wait is not None:
        response.headers["Retry-After"] = str(wait)
    return response
