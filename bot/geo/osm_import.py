"""Build the offline map index from an OpenStreetMap extract (`hotline places import`).

One streaming pass over the file with pyosmium (the maintained OSM reader; it
handles .osm.pbf, .osm and .osm.bz2 and keeps node locations in a file-backed
index, so memory stays bounded however large the extract): named highway ways
inside the bounds go into a staging table one row per node, named places and
landmarks into lists. SQLite then finds the crossings (nodes shared by two
differently named streets) by sorting on disk, and the result is written as
the tables `osm_index` reads. The file is built beside the live one and
renamed over it, so a running hotline never sees half an import.
"""

from __future__ import annotations

import math
import os
import sqlite3
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import osmium

from .location import _in_bounds
from .osm_build import finish
from .osm_names import AREA_KINDS, street_key, tag_names
from .osm_schema import cell_id, flat_m2

Bounds = tuple[float, float, float, float]

SKIPPED_HIGHWAYS = frozenset(
    "bus_stop platform proposed construction abandoned razed elevator corridor services rest_area".split()
)
"""highway=* values that are not streets a reporter stands on."""

LANDMARK_KEYS = ("amenity", "shop", "leisure", "public_transport", "tourism", "office", "craft", "building")
"""Tags that make a named object a place people say ("the Home Depot", "el parque")."""

SAMPLE_M = 50.0
"""Spacing of the points sampled along a street, so a shop mid-block finds its street (error under 25 m)."""

BATCH = 20000
"""Staging rows written per executemany: large enough to be fast, small enough to keep memory flat."""


@dataclass
class Staged:
    """What the streaming pass keeps in memory: only the small things (places, landmarks, names)."""

    names: dict[str, int] = field(default_factory=dict)
    """street key → id."""
    displays: dict[int, Counter] = field(default_factory=dict)
    """street id → how often each written name appears (the commonest is shown)."""
    aliases: dict[int, set[str]] = field(default_factory=dict)
    """street id → every name its ways carry (alt_name, old_name, name:es...)."""
    areas: list[tuple[str, str, float, float, list[str]]] = field(default_factory=list)
    """(name, kind, lat, lon, other names) of places and admin areas."""
    landmarks: list[tuple[str, float, float, list[str], str | None, str | None]] = field(default_factory=list)
    """(name, lat, lon, other names, brand, addr:street)."""
    ways: int = 0
    refs: int = 0


def _in(lat: float, lon: float, bounds: Bounds | None) -> bool:
    return _in_bounds(lat, lon, bounds)


def _along(points: list[tuple[int, float, float]]) -> list[tuple[float, float]]:
    """The way's nodes plus a point every SAMPLE_M along each longer segment (for "the street nearest a shop")."""
    out = [(points[0][1], points[0][2])]
    for (_, la1, lo1), (_, la2, lo2) in zip(points, points[1:]):
        steps = int(math.sqrt(flat_m2((la1, lo1), (la2, lo2))) // SAMPLE_M)
        out += [(la1 + (la2 - la1) * i / (steps + 1), lo1 + (lo2 - lo1) * i / (steps + 1)) for i in range(1, steps + 1)]
        out.append((la2, lo2))
    return out


def _street(way: osmium.osm.Way, staged: Staged, bounds: Bounds | None, rows: list, samples: list) -> None:
    names = tag_names(way.tags)
    key = street_key(names[0])
    if not key:
        return
    points = [(n.ref, n.location.lat, n.location.lon) for n in way.nodes if n.location.valid()]
    points = [p for p in points if _in(p[1], p[2], bounds)]
    if not points:
        return
    sid = staged.names.setdefault(key, len(staged.names) + 1)
    staged.displays.setdefault(sid, Counter())[names[0]] += 1
    staged.aliases.setdefault(sid, set()).update(names)
    staged.ways += 1
    staged.refs += len(points)
    rows.extend((ref, sid, way.id, lat, lon, cell_id(lat, lon)) for ref, lat, lon in points)
    samples.extend((cell_id(lat, lon), sid, lat, lon) for lat, lon in _along(points))


def _centre(obj: osmium.osm.Node | osmium.osm.Way) -> tuple[float, float] | None:
    if isinstance(obj, osmium.osm.Node):
        return (obj.location.lat, obj.location.lon) if obj.location.valid() else None
    points = [(n.location.lat, n.location.lon) for n in obj.nodes if n.location.valid()]
    if not points:
        return None
    # the mean of the outline: inside any building or park of ordinary shape
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def _read(path: Path, bounds: Bounds | None, db: sqlite3.Connection, index_dir: str) -> Staged:
    staged = Staged()
    rows: list[tuple] = []
    samples: list[tuple] = []
    processor = (
        osmium.FileProcessor(str(path))
        .with_locations(f"sparse_file_array,{index_dir}/locations.idx")
        .with_filter(osmium.filter.KeyFilter("name"))  # in C++: unnamed objects never reach Python
    )
    locations = processor.node_location_storage
    for obj in processor:
        if not isinstance(obj, osmium.osm.Node | osmium.osm.Way | osmium.osm.Relation):
            continue
        tags = obj.tags
        name = tags.get("name")
        if not name:
            continue
        if isinstance(obj, osmium.osm.Way) and "highway" in tags and tags.get("highway") not in SKIPPED_HIGHWAYS:
            _street(obj, staged, bounds, rows, samples)
            if len(rows) >= BATCH or len(samples) >= BATCH:
                _flush(db, rows, samples)
            continue
        if isinstance(obj, osmium.osm.Relation):
            if tags.get("boundary") == "administrative" and tags.get("admin_level", "") in AREA_KINDS:
                centre = _label_point(obj, locations)
                if centre and _in(*centre, bounds):
                    staged.areas.append((name, AREA_KINDS[tags["admin_level"]], *centre, tag_names(tags)[1:]))
            continue
        centre = _centre(obj)
        if centre is None or not _in(*centre, bounds):
            continue
        place = tags.get("place")
        if place in AREA_KINDS and isinstance(obj, osmium.osm.Node):
            staged.areas.append((name, AREA_KINDS[place], *centre, tag_names(tags)[1:]))
        elif place == "square" or any(k in tags for k in LANDMARK_KEYS):
            staged.landmarks.append((name, *centre, tag_names(tags)[1:], tags.get("brand"), tags.get("addr:street")))
    _flush(db, rows, samples)
    return staged


def _flush(db: sqlite3.Connection, rows: list, samples: list) -> None:
    db.executemany("INSERT INTO refs VALUES (?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO samples VALUES (?,?,?,?)", samples)
    rows.clear()
    samples.clear()


def _label_point(rel: osmium.osm.Relation, locations) -> tuple[float, float] | None:
    """An admin area's point: its label or admin_centre member node (the area outline is not assembled)."""
    for member in rel.members:
        if member.type == "n" and member.role in ("label", "admin_centre") and locations is not None:
            try:
                loc = locations.get(member.ref)
            except KeyError:  # the node lies outside the extract
                continue
            if loc.valid():
                return loc.lat, loc.lon
    return None


def import_osm(source: str | Path, target: str | Path, bounds: Bounds | None = None) -> dict:
    """Import an OSM extract into the index file target (replaced atomically); return counts and timings."""
    source, target = Path(source), Path(target)
    if not source.exists():
        raise FileNotFoundError(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        db = sqlite3.connect(tmp)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-65536")  # 64 MB of page cache: the sorts spill to disk beyond it
        db.execute("CREATE TEMP TABLE refs (node INT, street INT, way INT, lat REAL, lon REAL, cell INT)")
        db.execute("CREATE TEMP TABLE samples (cell INT, street INT, lat REAL, lon REAL)")
        with tempfile.TemporaryDirectory(dir=target.parent) as index_dir:
            staged = _read(source, bounds, db, index_dir)
        read_s = time.monotonic() - started
        counts = finish(db, staged, source, bounds)
        db.commit()
        db.execute("VACUUM")
        db.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    counts.update(read_s=round(read_s, 2), total_s=round(time.monotonic() - started, 2), bytes=target.stat().st_size)
    return counts
