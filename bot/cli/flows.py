"""`hotline flows check`, `hotline flows test` and `hotline chat`: the coordinators' tools for flows.

Thin commands over `bot.conversation`: the check prints `file:line:col: message`
and exits 1 on any error; test runs the YAML conversation cases through the
real webhook in a sandbox (its own Redis and fake Twilio) and exits 1 if one
fails; chat runs the real router and engine in the terminal,
with no Twilio, so a coordinator can try a flow (and a draft) before it ships.
"""

from __future__ import annotations

import itertools
import sys
import time
import uuid
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from .. import contacts, privacy, whatsapp_window
from ..channels import Inbound
from ..conversation import check_paths
from ..errors import ConfigError
from . import runtime, segments

flows_group = AppGroup("flows", help="Check and try the conversation flows.")
flows_group.add_command(segments.segments_command)


@flows_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--locales", "locales_dir", default=None, help="Catalog folder (default: the configured one).")
def check_command(paths: tuple[str, ...], locales_dir: str | None) -> None:
    """Check flows and their translations; print each problem as file:line:col: message."""
    settings = runtime().settings
    issues = check_paths(list(paths) or [settings.flows_dir], locales_dir or settings.locales_dir)
    for issue in issues:
        click.echo(str(issue), err=issue.severity == "error")
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    for row in segments.over_limit(settings):  # as sent: HOTLINE_SMS_MAX_SEGMENTS, GSM-7-safe languages applied
        click.echo(
            f"{row.where}: {row.lang} text takes {row.sent_cost[0]} SMS segments as sent "
            f"({row.sent_cost[1]}); the limit is {settings.sms_max_segments}",
            err=True,
        )
        errors += 1
    template_errors, template_warnings = _check_templates(settings)
    errors, warnings = errors + template_errors, warnings + template_warnings
    click.echo(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        raise SystemExit(1)


def _check_templates(settings) -> tuple[int, int]:
    """Check HOTLINE_WHATSAPP_TEMPLATES (when set): readable, well formed, an alert template per language."""
    if not settings.whatsapp_templates:
        return 0, 0
    try:
        templates = whatsapp_window.load_templates(settings.whatsapp_templates)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        return 1, 0
    missing = [lang for lang in settings.languages if ("alert", lang) not in templates]
    for lang in missing:
        fallback = "the en one" if ("alert", "en") in templates else "none: alerts to them are not sent"
        click.echo(
            f"{settings.whatsapp_templates}: no alert template for {lang}: WhatsApp subscribers quiet for 24 h get "
            f"{fallback}"
        )
    return 0, len(missing)


@flows_group.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--flows", "flows_dir", default=None, help="Flows folder to test (default: the configured one).")
@click.option("--update", is_flag=True, help="Rewrite replies that no longer match (read the diff before committing).")
def test_command(paths: tuple[str, ...], flows_dir: str | None, update: bool) -> None:
    """Run conversation cases (YAML) through the real webhook in a sandbox; print pass/fail per case."""
    from .cases import case_files, run_case, sandbox

    settings = runtime().settings
    files = case_files(list(paths) or [str(Path(settings.flows_dir).resolve().parent / "tests" / "flows" / "cases")])
    if not files:
        click.echo("no case files found", err=True)
        raise SystemExit(1)
    failed = 0
    with sandbox(str(Path(flows_dir or settings.flows_dir).resolve()), settings.locales_dir) as hotline:
        for path in files:
            hotline.reset()
            result = run_case(path, hotline, update=update)
            click.echo(f"{'PASS' if result.ok else 'FAIL'} {path}" + (" (updated)" if result.changed else ""))
            for failure in result.failures:
                click.echo(f"  {failure}", err=True)
            failed += not result.ok
    click.echo(f"{len(files) - failed} passed, {failed} failed")
    if failed:
        raise SystemExit(1)


@click.command("chat")
@click.option("--lang", type=click.Choice(["en", "es"]), default=None, help="Language to talk in.")
@click.option("--from", "from_", default="+15555550100", help="The number you pretend to text from.")
@with_appcontext
def chat_command(lang: str | None, from_: str) -> None:
    """Talk to the flows in the terminal: the real engine and sessions, no Twilio."""
    from .. import router

    rt = runtime()
    if lang:
        pipe = rt.r.pipeline()
        contacts.queue_set_language(pipe, privacy.contact_id(rt.settings.secret, from_), lang)
        pipe.execute()
    click.echo("Type a message (Ctrl-D to quit).", err=True)
    for n in itertools.count(1):
        line = sys.stdin.readline()
        if not line:
            break
        inbound = Inbound(
            channel="sms",
            address=from_,
            body=line.rstrip("\n"),
            message_sid=f"SMchat{uuid.uuid4().hex}{n}",
            to=rt.settings.twilio_number or "",
        )
        for reply in router.handle(rt, inbound, time.time()):
            click.echo(f"hotline> {reply}")
