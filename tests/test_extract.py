"""The Babel extractor: flow texts with their YAML line, msgctxt per step, translator notes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.conversation.extract import extract_flows

ROOT = Path(__file__).resolve().parent.parent


def _extract(name: str, source: str) -> list[tuple]:
    fileobj = io.BytesIO(source.encode())
    fileobj.name = name
    return list(extract_flows(fileobj, ["pgettext"], [], {}))


def test_each_text_has_its_line_context_and_note_in_file_order():
    source = (ROOT / "flows" / "sighting.yaml").read_text(encoding="utf-8")
    found = _extract("sighting.yaml", source)
    line, func, (ctx, msgid), notes = found[0]
    assert (func, ctx) == ("pgettext", "sighting.where.ask")
    assert source.splitlines()[line - 1].strip().startswith(f'ask: "{msgid[:20]}')
    assert notes == ["First message most reporters get. Short: people text from the scene."]
    assert [f[0] for f in found] == sorted(f[0] for f in found)
    assert ("sighting.what.choice.raid", "1 | raid | redada | operativo") in [f[2] for f in found]


def test_globals_and_data_files():
    source = (ROOT / "flows" / "_globals.yaml").read_text(encoding="utf-8")
    contexts = [f[2][0] for f in _extract("_globals.yaml", source)]
    assert "_globals.help.say" in contexts and "_globals.stop.words" in contexts
    assert _extract("places.yaml", "streets:\n  main: [Main St]\n") == []
    assert _extract("broken.yaml", "flow: [oops\n") == []


def test_the_registered_entry_point_runs_through_babel(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "tiny.yaml").write_text('flow: tiny\nstart: hi\nsteps:\n  hi:\n    say: "Hello"\n    end: true\n')
    found = list(extract_from_dir(str(tmp_path), method_map=[("flows/**.yaml", "hotline_flows")]))
    assert [(f[0], f[1], f[2], f[4]) for f in found] == [("flows/tiny.yaml", 5, "Hello", "tiny.hi.say")]


def test_pybabel_extract_writes_contexts_and_yaml_lines(tmp_path):
    out = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "-o",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as fh:
        catalog = read_po(fh)
    msg = catalog.get("When did it start? Like: now, 20 min ago, 3:15pm", context="sighting.when.ask")
    assert msg is not None and msg.locations[0][0] == "flows/sighting.yaml"


def test_the_shipped_spanish_catalog_is_complete_and_not_fuzzy():
    with open(ROOT / "locales" / "es" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh, locale="es")
    assert [m.id for m in catalog if m.id and (not m.string or m.fuzzy)] == []
    with open(ROOT / "locales" / "messages.pot", "rb") as fh:
        template = read_po(fh)
    assert {(m.context, m.id) for m in template if m.id} <= {(m.context, m.id) for m in catalog if m.id}


def test_the_committed_template_has_every_string_of_the_code_and_flows(tmp_path):
    out = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "-o",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as fh:
        fresh = {(m.context, m.id) for m in read_po(fh) if m.id}
    with open(ROOT / "locales" / "messages.pot", "rb") as fh:
        committed = {(m.context, m.id) for m in read_po(fh) if m.id}
    missing = sorted(fresh - committed, key=str)
    assert missing == [], (
        "strings not in locales/messages.pot; run pybabel extract and update "
        f"(docs/flows.md, Languages), then translate: {missing[:5]}"
    )
