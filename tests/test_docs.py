"""The docs a coordinator or operator reads must say what the code does (datasette's test_docs)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bot.cli import cli
from bot.config import VARIABLES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _config_rows() -> dict[str, str]:
    rows = {}
    for line in README.splitlines():
        match = re.match(r"\| `([A-Z0-9_]+)` \| (.+?) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


@pytest.mark.parametrize("var", VARIABLES, ids=[v.name for v in VARIABLES])
def test_every_variable_is_in_the_readme_with_its_default(var):
    rows = _config_rows()
    assert var.name in rows, f"README configuration table lacks {var.name}"
    expected = f"`{var.default}`" if var.default else "—"
    assert rows[var.name] == expected, f"README default of {var.name} is {rows[var.name]}, code says {expected}"


def test_readme_documents_no_variable_the_code_does_not_read():
    assert set(_config_rows()) <= {v.name for v in VARIABLES}


def _commands(group, prefix=""):
    for name, command in sorted(group.commands.items()):
        yield f"{prefix}{name}"
        if hasattr(command, "commands"):
            yield from _commands(command, prefix=f"{prefix}{name} ")


@pytest.mark.parametrize("command", list(_commands(cli)))
def test_every_command_is_documented(command):
    assert f"hotline {command}" in README, f"README does not mention `hotline {command}`"


def test_readme_test_command_is_marked_for_ci():
    match = re.search(r"<!-- test-command -->\n```\n(.+)\n```", README)
    assert match, "CI reads the test command after the <!-- test-command --> marker"
    assert "pytest" in shlex.split(match.group(1))


DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH_IN_DOC = re.compile(r"(?<![\w/.])((?:bot|tests|bench|flows|locales|docs)/[\w./-]*\w)")
"""A repository path a doc names: `bot/dispatch/waves.py`, tests/flows/cases/, docs/flows.md."""


def _named_paths():
    for doc in DOCS:
        for lineno, line in enumerate(doc.read_text().splitlines(), 1):
            for match in PATH_IN_DOC.finditer(line):
                path = match.group(1)
                if any(ch in path for ch in "*<>{}"):  # a pattern, not a path
                    continue
                yield doc.relative_to(ROOT), lineno, path


CREATED_BY_A_COMMAND = {"locales/fr/LC_MESSAGES/messages.po"}
"""Paths a doc names as what its own example command creates (`pybabel init ... -l fr`)."""


def test_every_path_the_docs_name_exists():
    missing = [
        f"{doc}:{line}: {path}"
        for doc, line, path in _named_paths()
        if not (ROOT / path).exists() and path not in CREATED_BY_A_COMMAND
    ]
    assert not missing, "docs name files that do not exist:\n" + "\n".join(missing)


def test_docs_stand_on_their_own():
    """A reader of the repository has only the repository: no citations of files outside it."""
    outside = re.compile(r"\.\./shared|\b(FIELD|CONTRACT|DESIGN|STYLE|FLOWS)\.md")
    cited = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in [*DOCS, *ROOT.glob("bot/**/*.py"), ROOT / "worker.py"]
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if outside.search(line)
    ]
    assert not cited, f"cite files that are not in the repository: {cited}"


CLI_DOC = ROOT / "docs" / "cli.md"


def cli_reference() -> str:
    """Render every command's --help as markdown (regenerate with `python tests/test_docs.py`)."""
    from click.testing import CliRunner

    runner = CliRunner()
    parts = [
        "# Command reference\n",
        "Generated from `--help` by `python tests/test_docs.py`; `tests/test_docs.py` fails when it is stale.\n",
    ]
    for command in [""] + list(_commands(cli)):
        args = command.split() + ["--help"]
        result = runner.invoke(cli, args, prog_name="hotline", env={"COLUMNS": "100"})
        assert result.exit_code == 0, result.output
        output = result.stdout
        parts.append(f"## `{('hotline ' + command).strip()}`\n")
        parts.append("```\n" + output.rstrip() + "\n```\n")
    return "\n".join(parts)


def test_cli_reference_is_current():
    assert CLI_DOC.exists() and CLI_DOC.read_text() == cli_reference(), (
        "docs/cli.md is stale: run `python tests/test_docs.py`"
    )


if __name__ == "__main__":
    CLI_DOC.write_text(cli_reference())
    print(f"wrote {CLI_DOC}")
