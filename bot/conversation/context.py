"""The engine's view of one moment: flows, catalogs and settings values, built per message or timer.

`respond` and the timers both build it here, so a reminder is worded exactly as
the step it repeats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import i18n, privacy
from . import registry, templates
from .loader import PLACES_FILE
from .model import Context, Session

if TYPE_CHECKING:
    from ..config import Settings


def secret(settings: Settings) -> str:
    """Return the key numbers are sealed with; `Settings.resolved()` always sets one."""
    if not settings.secret:
        raise RuntimeError("HOTLINE_SECRET is unset: build Settings with .resolved()")
    return settings.secret


def make_context(settings: Settings, reg: registry.Registry, now: float, e164: str | None = None) -> Context:
    """Build the engine's view of flows, catalogs and settings for one message."""
    locales = settings.locales_dir

    def get_flow(name: str, version: str | None) -> Any:
        if version:
            return reg.get(name, version)
        return reg.current(name, e164)

    catalogs: dict = {}  # one catalog lookup (an mtime check) per language per message

    def catalog(lang: str):
        if lang not in catalogs:
            catalogs[lang] = i18n.translations(locales, lang)
        return catalogs[lang]

    def translate(text, lang: str) -> str:
        if lang == "en":
            return text.source
        return catalog(lang).pgettext(text.context, text.source)

    def gettext(msgid: str, lang: str) -> str:
        return catalog(lang).gettext(msgid)

    return Context(
        get_flow=get_flow,
        translate=translate,
        gettext=gettext,
        now=now,
        values={"human_number": settings.human_number},
        region=settings.default_region,
        bounds=settings.bounds,
        seal=lambda value: privacy.seal(secret(settings), value),
        texts=reg.globals.texts,
        places=str(reg.folder / PLACES_FILE),
    )


def shared_text(ctx: Context, key: str, lang: str, fallback: str, session: Session | None = None) -> str:
    """Return a shared reply from _globals.yaml (or a code fallback), translated and filled."""
    text = ctx.texts.get(key)
    template = ctx.translate(text, lang) if text is not None else ctx.gettext(fallback, lang)
    return templates.fill(ctx, session or Session(lang=lang), None, template)
