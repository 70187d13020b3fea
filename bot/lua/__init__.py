"""The Redis Lua scripts, shipped as `.lua` files beside this module, and the one way they run.

Each script is one atomic decision (merge a report, claim a send, take a rate
slot, ...) that must read and write with nothing in between. Every script
takes its keys in `KEYS` and its arguments as one JSON object in `ARGV[1]`
(`local a = cjson.decode(ARGV[1])`), so a call names what it passes instead of
counting positions. `run` runs a script by name:

- on a client, through redis-py's `register_script` (EVALSHA, loading the text
  once per process and again after a Redis restart);
- on a pipeline, as a plain EVAL with the text: redis-py checks SCRIPT EXISTS
  before executing a pipeline that holds registered Scripts, which would add a
  round trip to the webhook's hot path.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import redis
from redis.client import Pipeline


@cache
def source(name: str) -> str:
    """The text of `bot/lua/<name>.lua` (read once per process)."""
    return resources.files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


_scripts: dict[str, object] = {}


def _script(r: redis.Redis, name: str):
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = r.register_script(source(name))
    return script


def run(r, name: str, keys: list[str], **args):
    """Run script `name` with `keys` and named arguments (encoded as one JSON object)."""
    encoded = json.dumps(args, separators=(",", ":"), ensure_ascii=False)
    if isinstance(r, Pipeline):
        return r.eval(source(name), len(keys), *keys, encoded)
    return _script(r, name)(keys=keys, args=[encoded], client=r)


def names() -> list[str]:
    """Every shipped script's name (for tests and `SCRIPT LOAD` at start-up)."""
    return sorted(p.name[: -len(".lua")] for p in resources.files(__package__).iterdir() if p.name.endswith(".lua"))
