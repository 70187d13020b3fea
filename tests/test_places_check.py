"""`hotline flows check` also checks the gazetteer beside the flows, by line."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.conversation import check_paths

ROOT = Path(__file__).resolve().parent.parent


def test_a_broken_place_is_reported_at_its_line(tmp_path):
    for f in (ROOT / "flows").glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    lines = (tmp_path / "places.yaml").read_text().splitlines()
    target = next(i for i, line in enumerate(lines) if "lat: 33.97" in line)
    lines[target] = lines[target].replace("lat: 33.97", "lat: 93.97", 1)
    (tmp_path / "places.yaml").write_text("\n".join(lines) + "\n")
    issues = [i for i in check_paths([str(tmp_path)], str(ROOT / "locales")) if i.path.endswith("places.yaml")]
    assert [(i.line, i.severity) for i in issues] == [(target + 1, "error")]


def test_shipped_places_pass():
    assert not [i for i in check_paths([str(ROOT / "flows")], str(ROOT / "locales")) if i.path.endswith("places.yaml")]
