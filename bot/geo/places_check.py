"""Checking the coordinators' gazetteer (flows/places.yaml) for mistakes, line by line, for `hotline flows check`."""

from __future__ import annotations

from pathlib import Path

import yaml

from .location import KIND_PRECISION_M

KINDS = tuple(KIND_PRECISION_M)
"""Kinds a gazetteer place may have."""


def check_places(path: str | Path) -> list[tuple[int, str]]:
    """Check a gazetteer file for coordinators' mistakes; return (line, problem) pairs in file order."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [((mark.line + 1) if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        return [(root.start_mark.line + 1, "the file must be a mapping with streets, intersections and places")]
    problems: list[tuple[int, str]] = []
    sections = {key.value: value for key, value in root.value}
    streets = set()
    for key, names in getattr(sections.get("streets"), "value", []) or []:
        streets.add(key.value)
        if not isinstance(names, yaml.SequenceNode) or not names.value:
            problems.append((key.start_mark.line + 1, f"street {key.value!r} needs a list of names"))
    seen_pairs: dict[tuple[frozenset, object], int] = {}
    for node in getattr(sections.get("intersections"), "value", []) or []:
        line = node.start_mark.line + 1
        entry = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.MappingNode) else None
        if not isinstance(entry, dict):
            problems.append((line, "an intersection must be a mapping with at, city, lat, lon, source"))
            continue
        at = entry.get("at")
        if not isinstance(at, list) or len(at) != 2 or len(set(map(str, at))) != 2:
            problems.append((line, "at: must name two different street ids"))
        else:
            problems += [
                (line, f"unknown street id {sid!r} (add it under streets:)") for sid in at if sid not in streets
            ]
            pair = frozenset(at)
            if (pair, entry.get("city")) in seen_pairs:
                problems.append((line, f"same corner as line {seen_pairs[(pair, entry.get('city'))]}"))
            seen_pairs[(pair, entry.get("city"))] = line
        problems += _check_point(entry, line)
    for node in getattr(sections.get("places"), "value", []) or []:
        line = node.start_mark.line + 1
        entry = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.MappingNode) else None
        if not isinstance(entry, dict) or not entry.get("name"):
            problems.append((line, "a place needs a name"))
            continue
        if entry.get("kind", "landmark") not in KINDS:
            problems.append((line, f"kind must be one of {', '.join(KINDS)}, got {entry.get('kind')!r}"))
        if entry.get("aliases") is not None and not isinstance(entry.get("aliases"), list):
            problems.append((line, "aliases must be a list"))
        if "precision_m" in entry and not (isinstance(entry["precision_m"], int) and entry["precision_m"] > 0):
            problems.append((line, "precision_m must be a positive whole number of metres"))
        problems += _check_point(entry, line)
    return sorted(problems)


def _check_point(entry: dict, line: int) -> list[tuple[int, str]]:
    problems = []
    try:
        lat, lon = float(entry["lat"]), float(entry["lon"])
    except (KeyError, TypeError, ValueError):  # a missing or non-numeric coordinate is the coordinator's mistake
        return [(line, "lat and lon must be numbers (5 decimals, from a map pin)")]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        problems.append((line, f"{lat},{lon} is not a point on Earth (lat first, then lon)"))
    if not entry.get("source"):
        problems.append((line, "say where the point came from (source:)"))
    return problems
