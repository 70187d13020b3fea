"""Flow actions declared once next to their code: the router's table, the checker's contracts.

The bug this guards against: renaming `save: where` to `save: place` in the sighting
flow passed `hotline flows check`, and the live hotline then filed every report as
unplaced (report.submit reads `where`).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
from pathlib import Path

import pytest

from bot import actions, i18n, incidents, privacy, router, runtime
from bot.channels import Inbound
from bot.cli.flows import flows_group
from bot.conversation import check_paths, registry, respond

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"
NOW = 1_780_000_000.0


@pytest.fixture
def flows_dir(tmp_path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    """Change a flow file as an editor saving it would (mtime forward, registries look again)."""
    source = path.read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new), encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime + 5, stat.st_mtime + 5))
    registry.expire_checks()
    i18n.expire_checks()


def messages(flows: Path) -> list[str]:
    return [str(i).split(": ", 1)[1] for i in check_paths([str(flows)], str(ROOT / "locales"))]


# ---- the save: place bug ---------------------------------------------------------
def test_renaming_where_to_place_fails_flows_check(runner, flows_dir):
    edit(flows_dir / "sighting.yaml", "    save: where\n", "    save: place\n")
    result = runner.invoke(flows_group, ["check", str(flows_dir)])
    assert result.exit_code == 1, result.output
    assert (
        "sighting.yaml:51:9: report.submit needs 'where' (a location answer) saved before step 'submit': "
        "no step saves it"
    ) in result.output


def test_the_live_hotline_keeps_placing_reports_after_that_edit(rt, flows_dir, r):
    hot = runtime.Runtime(settings=rt.settings.replace(flows_dir=str(flows_dir)), redis_url=rt.redis_url)
    first = Inbound(channel="sms", address="+13235550176", body="report", message_sid="SMact0")
    respond(hot, privacy.contact_id(hot.settings.secret, first.address), first, NOW, router.ACTIONS)  # serving v1
    edit(flows_dir / "sighting.yaml", "    save: where\n", "    save: place\n")
    e164 = "+13235550177"  # a new conversation after the edit
    cid = privacy.contact_id(hot.settings.secret, e164)
    replies: list[str] = []
    for n, body in enumerate(("report", "Pacific and Florence", "1"), 1):
        inbound = Inbound(channel="sms", address=e164, body=body, message_sid=f"SMact{n}")
        replies += respond(hot, cid, inbound, NOW + n, router.ACTIONS)
    ref = next(m.group(1) for m in (re.match(r"Report (\S+) sent", reply) for reply in replies) if m)
    assert not ref.startswith("U"), replies  # U refs are reports no locator could place
    assert [i["ref"] for i in incidents.list_open(r)] == [ref]


def test_a_path_that_skips_the_place_fails_the_check(flows_dir):
    # starting at `what` reaches the report before the place is ever asked
    edit(flows_dir / "sighting.yaml", "start: where\n", "start: what\n")
    assert (
        "report.submit needs 'where' (a location answer) saved before step 'submit': "
        "some path from start reaches the step without it"
    ) in messages(flows_dir)


def test_an_answer_saved_as_the_wrong_type_fails_the_check(flows_dir):
    edit(flows_dir / "alerts.yaml", 'text: {pattern: "\\\\b\\\\d{5}\\\\b"}', "number: {min: 0, max: 99999}")
    found = [m for m in messages(flows_dir) if "'zip'" in m]
    assert found == [
        "step 'zip' saves 'zip' as a number answer, but alerts.subscribe (step 'subscribe') reads it as a text answer"
    ]


def test_a_template_naming_a_field_the_action_does_not_return_fails_the_check(flows_dir):
    edit(flows_dir / "sighting.yaml", "Report {report.ref} sent", "Report {report.number} sent")
    assert "template variable {report.number}: report.submit returns ref, incident_id" in messages(flows_dir)


def test_the_shipped_flows_meet_every_contract():
    assert messages(ROOT / "flows") == []


# ---- one declaration -------------------------------------------------------------
def test_the_router_table_is_the_declarations():
    assert router.ACTIONS == actions.declared()
    assert sorted(router.ACTIONS) == [
        "alerts.subscribe",
        "alerts.unsubscribe",
        "debrief.open",
        "debrief.record",
        "handoff.callback",
        "report.submit",
        "report.update",
    ]
    submit = router.ACTIONS["report.submit"]
    assert submit.find("where").types == ("location",) and submit.find("where").required
    assert submit.returns == ("ref", "incident_id")


def _declaring_modules() -> set[str]:
    """Modules under bot/ whose source decorates a function with `@action(...)`."""
    found = set()
    for path in BOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", getattr(d.func, "attr", "")) == "action"
                for d in node.decorator_list
            ):
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_owners_lists_every_module_that_declares_an_action():
    assert set(actions.OWNERS) == _declaring_modules()
    assert {a.owner for a in actions.declared().values()} == set(actions.OWNERS)


def test_every_type_an_action_reads_is_one_the_checker_knows():
    from bot.conversation.answer_types import EXPECT_KINDS

    known = set(EXPECT_KINDS) | {actions.FIXED} | set(actions.declared())
    for act in actions.declared().values():
        for need in act.reads:
            assert set(need.types) <= known, (act.name, need)


def test_declaring_one_name_twice_is_refused():
    def first(rt, call):
        return {}

    def second(rt, call):
        return {}

    actions.action("test.twice")(first)
    try:
        with pytest.raises(ValueError, match="declared twice"):
            actions.action("test.twice")(second)
    finally:
        actions._declared.pop("test.twice", None)
