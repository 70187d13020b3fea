"""`hotline flows check` and `hotline chat`: the coordinators' tools for flows.

Thin commands over `bot.conversation`: the check prints `file:line:col: message`
and exits 1 on any error; chat runs the real router and engine in the terminal,
with no Twilio, so a coordinator can try a flow (and a draft) before it ships.
"""

from __future__ import annotations

import itertools
import sys
import time
import uuid

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .. import contacts, privacy
from ..channels import Inbound
from ..conversation import check_paths

flows_group = AppGroup("flows", help="Check and try the conversation flows.")


@flows_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--locales", "locales_dir", default=None, help="Catalog folder (default: the configured one).")
def check_command(paths: tuple[str, ...], locales_dir: str | None) -> None:
    """Check flows and their translations; print each problem as file:line:col: message."""
    settings = current_app.extensions["hotline"].settings
    issues = check_paths(list(paths) or [settings.flows_dir], locales_dir or settings.locales_dir)
    for issue in issues:
        click.echo(str(issue), err=issue.severity == "error")
    errors = sum(1 for i in issues if i.severity == "error")
    click.echo(f"{errors} error(s), {len(issues) - errors} warning(s)")
    if errors:
        raise SystemExit(1)


@click.command("chat")
@click.option("--lang", type=click.Choice(["en", "es"]), default=None, help="Language to talk in.")
@click.option("--from", "from_", default="+15555550100", help="The number you pretend to text from.")
@with_appcontext
def chat_command(lang: str | None, from_: str) -> None:
    """Talk to the flows in the terminal: the real engine and sessions, no Twilio."""
    from .. import router

    rt = current_app.extensions["hotline"]
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
