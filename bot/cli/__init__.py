"""The `hotline` command line: a Flask CLI group (Flask's "Custom Scripts" recipe).

Each command is thin: it parses arguments, calls one module function and
prints the result. Command groups of one concern live in their own module here.
"""

from __future__ import annotations

import json
import time

import click
from flask import current_app
from flask.cli import FlaskGroup

from .. import create_app


def _app_factory():
    return create_app()


@click.group(
    cls=FlaskGroup, create_app=_app_factory, add_default_commands=False, add_version_option=False, load_dotenv=False
)
def cli():
    """Run and operate the rapid-response hotline."""


def runtime():
    """The Runtime of the app FlaskGroup built for this command."""
    return current_app.extensions["hotline"]


def _register() -> None:
    from .coordinators import coordinators_group
    from .demo import demo_command, fake_twilio_command
    from .flows import chat_command, flows_group
    from .incidents import contacts_group, incidents_command
    from .observers import observers_group
    from .places import places_group
    from .stats import export_command, stats_command

    for command in (
        demo_command,
        fake_twilio_command,
        flows_group,
        chat_command,
        incidents_command,
        contacts_group,
        observers_group,
        places_group,
        stats_command,
        export_command,
        coordinators_group,
    ):
        cli.add_command(command)


@cli.command("purge")
def purge_command():
    """Apply the retention policy now."""
    from .. import retention

    result = retention.purge(runtime(), time.time())
    click.echo(json.dumps(result))


@cli.group("spool")
def spool_group():
    """Messages kept on disk while Redis was unreachable."""


@spool_group.command("replay")
def spool_replay_command():
    """Process spooled messages now and text their replies."""
    from .. import router

    click.echo(f"replayed {router.replay_spool(runtime())}")


_register()
