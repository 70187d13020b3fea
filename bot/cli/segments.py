"""`hotline flows segments`: what every text costs by SMS, per language, as written and as sent.

Each row is one text a texter can receive (flow steps, keyword replies, and the
code's own sentences: dispatch, alerts, follow-ups), with its placeholders
filled by typical values, counted the way Twilio bills (channels/sms.py) — as
written, and as sent with HOTLINE_SMS_GSM7_LANGUAGES. `hotline flows check`
uses the same rows to fail on a text above HOTLINE_SMS_MAX_SEGMENTS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import click
from babel.messages.pofile import read_po
from flask.cli import with_appcontext

from .. import i18n
from ..channels import sms
from ..conversation.check_texts import flow_texts, globals_texts
from ..conversation.keywords import load_globals_text
from ..conversation.loader import is_flow_source, load_flow_text
from . import runtime

SAMPLES = {
    "human_number": "+1 310 555 0111",
    "code": "48",
    "km": "1.2",
    "place": "Florence y Pacific (33.97950,-118.22000)",
    "map": "https://maps.google.com/?q=33.97950,-118.22000",
    "ref": "H-0042",
    "kind": "a raid",
    "area": "Huntington Park 90255",
    "zip": "90255",
    "name": "Ana",
    "until": "18:00",
    "codes": "48, 51",
    "needed": "2",
    "accepted": "1",
    "declined": "Ana",
    "silent": "Luis, Eva",
    "unreachable": "none",
}
"""Typical values for placeholders, so a row counts what a texter really gets."""

DEFAULT_SAMPLE = "xxxxxxxx"
"""Eight characters for a placeholder without a typical value."""

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Row:
    where: str
    lang: str
    written: str
    sent: str

    @property
    def written_cost(self) -> tuple[int, str]:
        return sms.segments(self.written)

    @property
    def sent_cost(self) -> tuple[int, str]:
        return sms.segments(self.sent)


def fill(template: str) -> str:
    return _PLACEHOLDER.sub(lambda m: SAMPLES.get(m.group(1), DEFAULT_SAMPLE), template)


def _sources(flows_dir: str) -> list[tuple[str, str, str | None]]:
    """(where, English source, msgctxt) of every SMS text, flows first, then the code's own."""
    out: list[tuple[str, str, str | None]] = []
    for path in sorted(Path(flows_dir).glob("*.y*ml")):
        source = path.read_text(encoding="utf-8")
        if path.name.startswith("_globals"):
            found, _ = load_globals_text(str(path), source)
            texts = globals_texts(found) if found else []
        elif is_flow_source(source):
            flow, _ = load_flow_text(str(path), source)
            texts = flow_texts(flow) if flow else []
        else:
            continue
        for text in texts:
            if ".choice." in text.context or text.context.endswith(".words"):
                continue  # word lists are matched, never sent
            out.append((f"{path.name}:{text.pos.line}", text.source, text.context))
    return out


def rows(settings, languages: tuple[str, ...] | None = None, gsm7: tuple[str, ...] | None = None) -> list[Row]:
    """Every SMS text in every language, as written and as this network would send it."""
    languages = languages or settings.languages
    gsm7 = settings.sms_gsm7_languages if gsm7 is None else gsm7
    sources = _sources(settings.flows_dir)
    seen = {src for _, src, ctx in sources if ctx is None}
    for lang in languages:
        if lang == i18n.SOURCE_LANGUAGE:
            continue
        path = i18n.catalog_path(settings.locales_dir, lang)
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            catalog = read_po(fh, locale=lang)
        for msg in catalog:
            if msg.id and msg.context is None and msg.id not in seen:
                seen.add(msg.id)
                sources.append(("code", msg.id, None))
    out = []
    for lang in languages:
        translations = i18n.translations(settings.locales_dir, lang)
        for where, source, context in sources:
            if lang == i18n.SOURCE_LANGUAGE:
                text = source
            elif context:
                text = translations.pgettext(context, source)
            else:
                text = translations.gettext(source)
            written = fill(text)
            out.append(Row(where, lang, written, sms.gsm7_for(written, [lang] if lang in gsm7 else [])))
    return out


def totals(found: list[Row]) -> dict[str, dict[str, int]]:
    """Per language: texts, UCS-2 texts and segments, as written and as sent."""
    out: dict[str, dict[str, int]] = {}
    for row in found:
        t = out.setdefault(
            row.lang, {"texts": 0, "ucs2_written": 0, "segments_written": 0, "ucs2_sent": 0, "segments_sent": 0}
        )
        t["texts"] += 1
        t["ucs2_written"] += row.written_cost[1] == "UCS-2"
        t["segments_written"] += row.written_cost[0]
        t["ucs2_sent"] += row.sent_cost[1] == "UCS-2"
        t["segments_sent"] += row.sent_cost[0]
    return out


def over_limit(settings) -> list[Row]:
    """Texts longer (as sent) than HOTLINE_SMS_MAX_SEGMENTS."""
    return [row for row in rows(settings) if row.sent_cost[0] > settings.sms_max_segments]


@click.command("segments")
@with_appcontext
@click.option("--each", is_flag=True, help="Print every text's encoding and segments, not only the totals.")
def segments_command(each: bool) -> None:
    """Count every SMS text's encoding and segments per language, as written and as sent."""
    settings = runtime().settings
    found = rows(settings)
    if each:
        for row in found:
            (n_w, enc_w), (n_s, enc_s) = row.written_cost, row.sent_cost
            click.echo(f"{row.where}\t{row.lang}\t{enc_w} {n_w}\t→ {enc_s} {n_s}\t{row.written[:50]}")
    click.echo("| language | texts | UCS-2 as written | segments as written | UCS-2 as sent | segments as sent |")
    click.echo("|---|---|---|---|---|---|")
    for lang, t in totals(found).items():
        click.echo(
            f"| {lang} | {t['texts']} | {t['ucs2_written']} | {t['segments_written']} | "
            f"{t['ucs2_sent']} | {t['segments_sent']} |"
        )
    too_long = [row for row in found if row.sent_cost[0] > settings.sms_max_segments]
    for row in too_long:
        click.echo(f"{row.where}: {row.lang} text takes {row.sent_cost[0]} segments as sent", err=True)
    if too_long:
        raise SystemExit(1)
