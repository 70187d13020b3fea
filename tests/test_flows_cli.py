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
