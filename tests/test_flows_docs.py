"""Every YAML example in docs/flows.md loads and passes the flow check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.conversation.check import check_flow
from bot.conversation.keywords import load_globals_text
from bot.conversation.loader import load_flow_text

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "flows.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
SHIPPED = {"sighting", "rights", "alerts"}


def _globals():
    path = ROOT / "flows" / "_globals.yaml"
    found, issues = load_globals_text(str(path), path.read_text(encoding="utf-8"))
    assert issues == []
    return found


def test_the_guide_has_examples_of_every_kind():
    starts = [b.split("\n", 1)[0] for b in BLOCKS]
    assert sum(s.startswith("flow:") for s in starts) >= 6
    assert any(s.startswith("commands:") for s in starts) and any(s.startswith("description:") for s in starts)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_loads_and_checks(index):
    block = BLOCKS[index]
    head = block.split("\n", 1)[0]
    if head.startswith("flow:"):
        name = head.split(":", 1)[1].strip()
        flow, issues = load_flow_text(f"docs/{name}.yaml", block)
        assert issues == [] and flow is not None
        problems = [str(i) for i in check_flow(flow, _globals(), SHIPPED | {name})]
        assert problems == []
    elif head.startswith("commands:"):
        found, issues = load_globals_text("docs/_globals.yaml", block)
        assert issues == [] and found.commands
    else:
        case = yaml.safe_load(block)
        assert case["description"] and case["steps"]
