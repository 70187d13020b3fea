"""Cost of submitting one report with 0, 100k and 1M incidents stored, and memory per incident.

Runs against a throwaway embedded Redis (never the test one). Stored incidents
are written by a Lua loader sent in pipelined batches, in exactly the shape
`incidents.merge_report` leaves them (hash, reporters set, two-entry timeline
stream, GEO and time index), spread uniformly over the LA bounds box.
Two scenarios:
  history   the stored incidents are closed (out of the open indexes, as after
            expiry) and a fixed number stay open: what a hotline looks like
            after months; the merge must not care how many are stored.
  all-open  every stored incident is open and fresh: a stress case where the
            local density of open incidents (27 per km² at 1M) grows with N,
            so the GEO search's M term grows with it.
Memory per incident is measured on incidents made by `merge_report` itself.

    python bench/incidents.py                 # 0, 100k, 1M, both scenarios
    python bench/incidents.py --sizes 0,10000 --reports 500   # quick look
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import incidents, store  # noqa: E402
from bot.config import Settings  # noqa: E402

BOUNDS = (33.2, -119.0, 34.9, -116.9)
"""HOTLINE_GEO_BOUNDS default: about 190 km × 190 km."""

BATCH = 2000
"""Incidents one loader call makes (a few ms of server time each)."""

PIPELINE = 4
"""Loader calls sent per round trip."""

KINDS = ("raid", "arrest", "checkpoint", "agents", "other")


def random_point(rng: random.Random) -> tuple[float, float]:
    south, west, north, east = BOUNDS
    return rng.uniform(south, north), rng.uniform(west, east)


_LOAD_LUA = r"""
-- Make incidents first..first+count-1 server-side, in merge_report's shape.
local first, count, seed = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now, window = tonumber(ARGV[4]), tonumber(ARGV[5])
local south, west, north, east = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local tinc, trep, ttl = ARGV[10], ARGV[11], ARGV[12]
local open = ARGV[13] == '1'  -- else closed history: stored, but out of the open indexes
local kinds = {'raid', 'arrest', 'checkpoint', 'agents', 'other'}
local x = seed
local function rnd()  -- Park-Miller: exact in Lua's doubles, same numbers on every Redis
  x = (x * 16807) % 2147483647
  return x / 2147483647
end
local function k(tpl, id) return (string.gsub(tpl, '@ID@', id)) end
local details = '{"agents": 3, "vehicles": 2}'
for n = first, first + count - 1 do
  local id = tostring(n)
  local lat = string.format('%.6f', south + (north - south) * rnd())
  local lon = string.format('%.6f', west + (east - west) * rnd())
  local at = string.format('%.3f', now - window * rnd())
  local kind = kinds[1 + math.floor(rnd() * 5)]
  local reporter = string.format('%032x', n)
  local status = 'reported'; if not open then status = 'closed' end
  redis.call('HSET', k(tinc, id), 'id', id, 'status', status, 'kind', kind, 'precision_m', '30',
    'lat', lat, 'lon', lon, 'created_at', at, 'last_at', at, 'reports', '1', 'believed', '[]',
    'details', details, 'language', 'es', 'channel', 'sms')
  redis.call('SADD', k(trep, id), reporter)
  redis.call('XADD', k(ttl, id), '*', 'event', 'created', 'at', at, 'status', 'reported', 'reason', 'one report')
  redis.call('XADD', k(ttl, id), '*', 'event', 'report', 'at', at, 'reporter', reporter, 'new_reporter', '1',
    'kind', kind, 'lat', lat, 'lon', lon, 'precision_m', '30', 'details', details, 'language', 'es', 'channel', 'sms')
  if open then
    redis.call('GEOADD', KEYS[1], lon, lat, id)
    redis.call('ZADD', KEYS[2], at, id)
  end
end
redis.call('SET', KEYS[3], first + count - 1)
return count
"""


def load(r, start: int, count: int, now: float, window_s: int, rng: random.Random, open_: bool = True) -> None:
    """Store incidents start+1 … start+count as merge_report would: batches of a Lua loader, pipelined."""
    if count <= 0:
        return
    loader = r.register_script(_LOAD_LUA)
    keys = [store.incidents_geo_key(), store.incidents_time_key(), store.incident_seq_key()]
    templates = [store.incident_key("@ID@"), store.incident_reporters_key("@ID@"), store.incident_timeline_key("@ID@")]
    batches = [(first, min(BATCH, start + count + 1 - first)) for first in range(start + 1, start + count + 1, BATCH)]
    for group in range(0, len(batches), PIPELINE):
        pipe = r.pipeline(transaction=False)
        for first, size in batches[group : group + PIPELINE]:
            loader(
                keys,
                [first, size, rng.randrange(1, 2**31 - 1), now, window_s, *BOUNDS, *templates, "1" if open_ else "0"],
                client=pipe,
            )
        pipe.execute()


def time_reports(r, settings: Settings, count: int, now: float, rng: random.Random) -> list[float]:
    """Submit `count` reports at random places; return each call's wall time in µs."""
    samples = []
    for i in range(count):
        lat, lon = random_point(rng)
        report = incidents.Report(f"bench-{i:08d}", lat, lon, 30, rng.choice(KINDS), {"agents": 2}, "en", "sms")
        t0 = time.perf_counter()
        incidents.merge_report(r, report, settings, now + i * 0.001)
        samples.append((time.perf_counter() - t0) * 1e6)
    return samples


def memory_per_incident(r, settings: Settings, count: int, now: float, rng: random.Random) -> float:
    """Bytes of Redis memory per incident made by merge_report itself."""
    r.flushdb()
    before = r.info("memory")["used_memory"]
    for i in range(count):
        lat, lon = random_point(rng)
        incidents.merge_report(
            r,
            incidents.Report(f"mem-{i:08d}", lat, lon, 30, "raid", {"agents": 3, "vehicles": 2}, "es", "sms"),
            settings,
            now,
        )
    return (r.info("memory")["used_memory"] - before) / count


def percentile(samples: list[float], p: float) -> float:
    return statistics.quantiles(samples, n=100)[int(p) - 1]


def run_scenario(
    r, settings: Settings, name: str, sizes: list[int], reports: int, live: int, now: float, rng: random.Random
) -> list[dict]:
    """Time reports at each size; `history` keeps `live` open incidents and stores the rest closed."""
    r.flushdb()
    if name == "history":
        load(r, 0, live, now, settings.dedupe_window_min * 60, rng, open_=True)
    rows = []
    for size in sizes:
        stored = int(r.get(store.incident_seq_key()) or 0)
        t0 = time.perf_counter()
        load(r, stored, size - stored, now, settings.dedupe_window_min * 60, rng, open_=(name == "all-open"))
        load_s = time.perf_counter() - t0
        mem = r.info("memory")["used_memory"]
        time_reports(r, settings, 200, now, rng)  # warm the script cache and the connection
        r.config_resetstat()
        samples = time_reports(r, settings, reports, now, rng)
        server_us = float(r.info("commandstats")["cmdstat_evalsha"]["usec_per_call"])
        rows.append(
            {
                "scenario": name,
                "stored": size,
                "open": r.zcard(store.incidents_time_key()),
                "median_us": statistics.median(samples),
                "p95_us": percentile(samples, 95),
                "p99_us": percentile(samples, 99),
                "server_us": server_us,
                "used_memory_mb": mem / 2**20,
                "load_s": load_s,
            }
        )
        print(f"  {name:>8} {size:>9,}: loaded in {load_s:6.1f} s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,100000,1000000", help="incidents stored before timing")
    parser.add_argument("--reports", type=int, default=2000, help="reports timed at each size")
    parser.add_argument("--live", type=int, default=1000, help="open incidents in the history scenario")
    parser.add_argument("--scenarios", default="history,all-open", help="history, all-open or both")
    parser.add_argument("--memory-sample", type=int, default=20000, help="incidents made to measure memory")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    settings = Settings(dedupe_radius_m=400, dedupe_window_min=30, incident_ttl_min=240)
    rng = random.Random(4)
    now = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        server = store.start_embedded(tmp, appendonly=False)
        # no client timeout: a loader batch may take seconds on a busy 2-core machine
        r = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=None)
        try:
            print(f"redis {r.info('server')['redis_version']} on 127.0.0.1:{server.port} (throwaway)", flush=True)
            per_incident = memory_per_incident(r, settings, args.memory_sample, now, rng)
            default_node = r.config_get("stream-node-max-bytes")["stream-node-max-bytes"]
            # Redis 6.2 preallocates each new stream node at stream-node-max-bytes; timelines are short
            r.config_set("stream-node-max-bytes", 512)
            per_incident_512 = memory_per_incident(r, settings, args.memory_sample, now, rng)
            r.config_set("stream-node-max-bytes", default_node)
            for name in args.scenarios.split(","):
                rows += run_scenario(r, settings, name, sizes, args.reports, args.live, now, rng)
        finally:
            r.close()
            server.stop()
    print()
    print(
        f"{'scenario':>9} {'stored':>10} {'open':>10} {'median µs':>10} {'p95 µs':>8} {'p99 µs':>8} "
        f"{'server µs':>10} {'× empty':>8} {'Redis MB':>9}"
    )
    for row in rows:
        base = next(x for x in rows if x["scenario"] == row["scenario"])
        print(
            f"{row['scenario']:>9} {row['stored']:>10,} {row['open']:>10,} {row['median_us']:>10.0f} "
            f"{row['p95_us']:>8.0f} {row['p99_us']:>8.0f} {row['server_us']:>10.0f} "
            f"{row['median_us'] / base['median_us']:>8.2f} {row['used_memory_mb']:>9.0f}"
        )
    print(
        "  history: the stored incidents are closed (as after expiry), a fixed set is open;"
        " all-open: every stored incident is open, fresh and spread over the bounds box"
    )
    print(
        f"\nmemory per incident made by merge_report (hash + reporters set + 2-entry timeline + GEO + time"
        f" index; sample of {args.memory_sample:,}):"
    )
    print(f"  {per_incident:,.0f} bytes with stream-node-max-bytes {default_node} (the default)")
    print(f"  {per_incident_512:,.0f} bytes with stream-node-max-bytes 512")
    if args.json:
        print(
            json.dumps(
                {"rows": rows, "bytes_per_incident": per_incident, "bytes_per_incident_node512": per_incident_512}
            )
        )


if __name__ == "__main__":
    main()
