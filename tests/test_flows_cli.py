"""`hotline flows check` and `hotline chat` through Flask's CLI runner."""

from __future__ import annotations

from pathlib import Path

from bot.cli.flows import chat_command, flows_group

BROKEN = Path(__file__).parent / "flows" / "broken"


def test_flows_check_passes_on_the_shipped_flows(runner):
    result = runner.invoke(flows_group, ["check"])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_flows_check_prints_file_line_and_exits_1(runner):
    result = runner.invoke(flows_group, ["check", str(BROKEN / "missing_target.yaml")])
    assert result.exit_code == 1
    assert f"{BROKEN / 'missing_target.yaml'}:10:11: cases.no of step 'what' names no step: 'goodbye'" in result.output


def test_chat_runs_the_real_flow_in_spanish(runner):
    result = runner.invoke(chat_command, ["--lang", "es"], input="reporte\n90011\n")
    assert result.exit_code == 0, result.output
    assert "hotline> Línea: ¿dónde está pasando?" in result.output
    assert "hotline> ¿Qué ve?" in result.output


CASES = Path(__file__).parent / "flows" / "cases"


def test_flows_test_runs_the_cases_outside_pytest_and_says_pass_per_case(runner):
    result = runner.invoke(flows_group, ["test", str(CASES / "alerts_en_es.yaml"), str(CASES / "timers_reminder.yaml")])
    assert result.exit_code == 0, result.output
    assert f"PASS {CASES / 'alerts_en_es.yaml'}" in result.output
    assert f"PASS {CASES / 'timers_reminder.yaml'}" in result.output  # timers run in its own worker
    assert "2 passed, 0 failed" in result.output


def test_flows_test_fails_a_case_whose_flow_changed(runner, tmp_path):
    import shutil

    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).parent.parent / "flows", flows)
    sighting = flows / "sighting.yaml"
    sighting.write_text(
        sighting.read_text(encoding="utf-8").replace('ask: "What do you see?', 'ask: "What is going on?'),
        encoding="utf-8",
    )
    result = runner.invoke(flows_group, ["test", "--flows", str(flows), str(CASES / "timers_reminder.yaml")])
    assert result.exit_code == 1, result.output
    assert f"FAIL {CASES / 'timers_reminder.yaml'}" in result.output
    assert "timers_reminder.yaml step 4: expected ['What do you see?*']" in result.output
    assert "0 passed, 1 failed" in result.output


def test_the_sandbox_runs_cases_with_the_settings_the_tests_use(settings):
    from bot.cli.cases import SANDBOX

    assert {name: getattr(settings, name) for name in SANDBOX} == SANDBOX
