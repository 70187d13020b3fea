"""The Lua scripts: shipped as .lua files, each compiles, each one a call names exists, none inline."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from bot import lua

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"


def _called_names() -> set[str]:
    names = set()
    for path in BOT.rglob("*.py"):
        names |= set(re.findall(r'lua\.run\(\s*[\w.]+,\s*"(\w+)"', path.read_text(encoding="utf-8")))
    return names


def test_every_script_compiles_in_redis(r):
    # 13 inline scripts before; decline, cover and undeliver share one; + forget (a paused send); + incident_update;
    # + code_release (a dispatch code freed only by the incident that held it); + digest; + flood_cap;
    # + webchat_rotate (chat ids); + code_take (a code in bounded probes, not a scan of every open incident);
    # + attention_take (an observer's slot claimed within their budget, atomically);
    # - code_release (code_take writes the code into its plan in the same step: no orphan to give back);
    # + contact_forget (DELETE in one step, not a round trip per incident the contact reported to)
    assert len(lua.names()) == 19
    for name in lua.names():
        assert r.script_load(lua.source(name)), name


def test_every_script_takes_its_arguments_as_one_json_table():
    for name in lua.names():
        source = lua.source(name)
        assert "cjson.decode(ARGV[1])" in source, name
        assert not re.search(r"ARGV\[[2-9]", source), f"{name} reads positional arguments"


def test_every_called_script_ships_and_every_shipped_one_is_called():
    assert _called_names() == set(lua.names())


def test_no_lua_left_inline_in_python():
    inline = [str(p.relative_to(ROOT)) for p in BOT.rglob("*.py") if "redis.call(" in p.read_text(encoding="utf-8")]
    assert inline == []


def test_scripts_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "lua/*.lua" in config["tool"]["setuptools"]["package-data"]["bot"]


def test_named_arguments_keep_unicode_and_pipelines_work(r):
    pipe = r.pipeline(transaction=False)
    lua.run(pipe, "session_save", ["t:session"], expected="*", ttl_s=60, fields=["step", "¿dónde?"])
    assert pipe.execute() == [1]
    assert r.hget("t:session", "step") == "¿dónde?"
    assert lua.run(r, "session_save", ["t:session"], expected="7", ttl_s=60, fields=[]) == 0
