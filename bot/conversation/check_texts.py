"""Checks of what texters read: translations, keyword collisions in every language, SMS size.

Split from check.py because it reads gettext catalogs rather than flow
structure. Other flow tools (RapidPro, Typebot) do not fail a build on a missing or fuzzy
translation; here each problem points at the YAML line the coordinator wrote.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from babel.messages.pofile import PoFileError, read_po

from ..channels.sms import GSM7, GSM7_EXT, LOOKALIKES, segments
from ..i18n import fold, po_syntax_errors
from . import inputs
from .model import Flow, Globals, Issue, Text

MAX_SEGMENTS = 3
"""More than three SMS segments costs money and arrives out of order on some phones."""

# The GSM-7 tables and segment counting live in channels/sms.py (one home for the sender,
# the fake Twilio and these checks).
_ANY_BRACE_RE = re.compile(r"\{[^{}]*\}")


def flow_texts(flow: Flow) -> list[Text]:
    """Every translatable text of a flow, in the order a texter meets them."""
    out: list[Text] = []
    for step in flow.steps.values():
        if step.text is not None:
            out.append(step.text)
        if step.expect is not None:
            out += [o.words for o in step.expect.choices]
            out += [v for v in step.expect.options.values() if isinstance(v, Text)]
        out += [t for t in (step.invalid, step.remind) if t is not None]
    return out


def globals_texts(globals_: Globals) -> list[Text]:
    """Every translatable text of the globals file."""
    out = [c.words for c in globals_.commands] + [c.reply for c in globals_.commands if c.reply]
    out += [t.words for t in globals_.triggers if t.words is not None]
    return out + list(globals_.texts.values())


def read_catalogs(locales_dir: str | None, langs: set[str], issues: list[Issue]) -> dict:
    catalogs = {}
    for lang in sorted(langs - {"en"}):
        path = Path(locales_dir or "locales") / lang / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            issues.append(Issue(str(path), 0, 0, f"no catalog for language '{lang}'"))
            continue
        try:
            raw = path.read_bytes()
            broken = po_syntax_errors(raw.decode("utf-8"))
            for line, problem in broken:
                issues.append(Issue(str(path), line, 1, f"broken catalog syntax: {problem}"))
            if broken:
                continue  # its texts would be read cut: report the syntax, not a cascade
            catalogs[lang] = (str(path), read_po(io.BytesIO(raw), locale=lang, abort_invalid=True))
        except (PoFileError, ValueError) as exc:  # a broken .po: report it, check the rest
            issues.append(Issue(str(path), 0, 0, f"cannot read catalog: {exc}"))
    return catalogs


def check_translations(texts: list[Text], langs, catalogs: dict, path: str) -> list[Issue]:
    """Flag missing, fuzzy or placeholder-mismatched translations, and SMS size problems."""
    issues = []
    for text in texts:
        issues += _sms_issues(text, text.source, "en")
        for lang in langs:
            if lang == "en" or lang not in catalogs:
                continue
            po_path, catalog = catalogs[lang]
            msg = catalog.get(text.source, context=text.context)
            where = (text.pos.path, text.pos.line, text.pos.col)
            if msg is None or not msg.string:
                issues.append(
                    Issue(
                        *where,
                        f"untranslated in {lang}: {text.context} "
                        f"(run pybabel extract/update, then translate in {po_path})",
                    )
                )
                continue
            line = f"{Path(po_path).name}:{msg.lineno}" if msg.lineno else Path(po_path).name
            if msg.fuzzy:
                issues.append(
                    Issue(*where, f"fuzzy translation in {lang} ({line}): review it and remove the fuzzy flag")
                )
                continue
            src = sorted(_ANY_BRACE_RE.findall(text.source))
            dst = sorted(_ANY_BRACE_RE.findall(msg.string))
            if src != dst:
                issues.append(
                    Issue(
                        *where,
                        f"placeholders differ in {lang} ({line}): "
                        f"{' '.join(src) or 'none'} vs {' '.join(dst) or 'none'}",
                    )
                )
            if ".choice." in text.context:
                keys = {w for w in inputs.split_words(text.source) if w.isdigit()}
                got = {w for w in inputs.split_words(msg.string) if w.isdigit()}
                if keys - got:
                    issues.append(
                        Issue(
                            *where,
                            f"translation in {lang} ({line}) lost the number key {', '.join(sorted(keys - got))}",
                        )
                    )
            issues += _sms_issues(text, msg.string, lang)
    return issues


def check_code_strings(po_path: str, lang: str, catalog) -> list[Issue]:
    """Flag untranslated, fuzzy or placeholder-mismatched strings of the code (no msgctxt)."""
    issues = []
    for msg in catalog:
        if not msg.id or msg.context is not None:
            continue
        line = msg.lineno or 0
        if not msg.string:
            issues.append(Issue(po_path, line, 0, f"untranslated in {lang}: {msg.id[:60]!r}"))
        elif msg.fuzzy:
            issues.append(Issue(po_path, line, 0, f"fuzzy translation in {lang}: {msg.id[:60]!r}"))
        elif sorted(_ANY_BRACE_RE.findall(msg.id)) != sorted(_ANY_BRACE_RE.findall(msg.string)):
            issues.append(Issue(po_path, line, 0, f"placeholders differ in {lang}: {msg.id[:60]!r}"))
    return issues


def _sms_issues(text: Text, body: str, lang: str) -> list[Issue]:
    if ".choice." in text.context or text.context.endswith(".words"):
        return []  # word lists are matched, never sent
    where = (text.pos.path, text.pos.line, text.pos.col)
    count, encoding = segments(body)
    out = []
    if count > MAX_SEGMENTS:
        why = ""
        if encoding == "UCS-2":
            forcing = "".join(sorted({ch for ch in body if ch not in GSM7 and ch not in GSM7_EXT}))
            plain, _ = segments(_strip_accents("".join(LOOKALIKES.get(ch, ch) for ch in body)))
            why = f" because {forcing} force UCS-2 ({plain} without them)"
        out.append(Issue(*where, f"{lang} text takes {count} SMS segments{why}; keep it to {MAX_SEGMENTS}", "warning"))
    needless = sorted({ch for ch in body if ch in LOOKALIKES})
    if needless:
        shown = " ".join(f"{ch!r}->{LOOKALIKES[ch]!r}" for ch in needless)
        out.append(
            Issue(
                *where,
                f"{lang} text is sent as UCS-2 (70 characters a segment) only because of "
                f"{shown}; type the GSM-7 twin instead",
                "warning",
            )
        )
    return out


def _strip_accents(body: str) -> str:
    return "".join(ch if ch in GSM7 or ch in GSM7_EXT else (fold(ch) or ch) for ch in body)


def check_translated_collisions(flow: Flow, globals_: Globals, catalogs: dict) -> list[Issue]:
    """Flag a translated choice word that is a global keyword in any language ("baja" is STOP in Spanish)."""
    keyword: dict[str, str] = {}
    for cmd in globals_.commands:
        for lang in [None, *catalogs]:
            words = cmd.words.source if lang is None else _translated(catalogs[lang][1], cmd.words)
            for w in inputs.split_words(words or ""):
                keyword.setdefault(w, cmd.name)
    for trig in globals_.triggers:
        if trig.words is not None and trig.flow != flow.name:
            for lang in [None, *catalogs]:
                words = trig.words.source if lang is None else _translated(catalogs[lang][1], trig.words)
                for w in inputs.split_words(words or ""):
                    keyword.setdefault(w, f"trigger for {trig.flow}")
    issues = []
    for step in flow.steps.values():
        if step.expect is None or step.expect.kind != "choice":
            continue
        english = {w for cmd in globals_.commands for w in inputs.split_words(cmd.words.source)}
        for option in step.expect.choices:
            for lang in ["en", *flow.languages]:
                if lang != "en" and lang not in catalogs:
                    continue
                words = option.words.source if lang == "en" else _translated(catalogs[lang][1], option.words)
                for w in inputs.split_words(words or ""):
                    if w in keyword and not (lang == "en" and w in english):  # English pairs: _check_collisions
                        p = option.words.pos
                        issues.append(
                            Issue(
                                p.path,
                                p.line,
                                p.col,
                                f"{lang} choice word '{w}' of '{option.code}' is the global keyword '{keyword[w]}'",
                            )
                        )
    return issues


def _translated(catalog, text: Text) -> str | None:
    msg = catalog.get(text.source, context=text.context)
    return msg.string if msg is not None and msg.string and not msg.fuzzy else None
