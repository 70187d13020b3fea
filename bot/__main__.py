"""`python -m bot` runs the `hotline` command line."""

from .cli import cli

cli()
