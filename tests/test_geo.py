"""geo.locate on the way people really text places: one table of real-world phrasings.

Each row: what was sent, where it really is, and how far off the answer may be.
Reference points are LA Metro bus stops at the named corner (the gazetteer's
source) or a city's centre; tolerances follow the precision class the answer
must honestly claim (street 150 m, ZIP/neighborhood 2.5-3 km, city 5-6 km).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot import geo

LA = (33.2, -119.0, 34.9, -116.9)
"""The default HOTLINE_GEO_BOUNDS box (LA and Orange counties)."""
KENTUCKY = (38.85, -84.8, 39.2, -84.3)
"""Northern Kentucky around Florence, KY."""
OHIO_VALLEY = (38.5, -85.5, 39.3, -84.3)

FLORENCE_PACIFIC = (33.975521, -118.225006)
GAGE_PACIFIC = (33.981518, -118.224838)
GAGE_SANTA_FE = (33.981518, -118.229927)
SEVENTH_HOOVER = (34.059620, -118.283966)
FIRESTONE_LONG_BEACH = (33.955460, -118.219879)
ATLANTIC_SLAUSON = (33.987408, -118.185371)
ALVARADO_WILSHIRE = (34.057095, -118.276237)
FLORENCE_ATLANTIC = (33.970131, -118.187592)
ATLANTIC_SANTA_ANA = (33.961163, -118.185654)
FIRESTONE_STATE = (33.954948, -118.211899)
SOTO_WHITTIER = (34.034130, -118.215645)
UNION_STATION = (34.054489, -118.237358)
FIRESTONE_STATION = (33.960026, -118.243233)
HUNTINGTON_PARK = (33.9800, -118.2170)
SOUTH_GATE = (33.9547, -118.2120)
BELL_GARDENS = (33.9653, -118.1515)
SANTA_ANA = (33.7455, -117.8677)
BOYLE_HEIGHTS = (34.0330, -118.2050)
FLORENCE_KY = (38.9989, -84.6266)
SLAUSON_SANTA_FE = (33.9889, -118.2301)
"""Not in the gazetteer: Slauson's latitude from the Pacific/Atlantic/Avalon stops, Santa Fe's
longitude interpolated between the Gage/Santa Fe and Vernon/Santa Fe stops."""


def metres(a, b) -> float:
    """Great-circle distance in metres."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371000 * math.asin(math.sqrt(h))


PIN = {"lat": 33.97552, "lon": -118.22501}
CASES = [
    # label, text, extra kwargs, expected point, tolerance m, precision class
    ("whatsapp pin", "", PIN, FLORENCE_PACIFIC, 5, "exact"),
    ("pin with words", "aqui estan", PIN, FLORENCE_PACIFIC, 5, "exact"),
    ("google q link", "https://maps.google.com/?q=33.9755,-118.2250", {}, FLORENCE_PACIFIC, 30, "exact"),
    (
        "google place data link",
        "https://www.google.com/maps/place/Florence+Ave+%26+Pacific+Blvd/@33.9760,-118.2260,17z/"
        "data=!3m1!4b1!4m5!3m4!1s0x0:0x0!8m2!3d33.9755211!4d-118.2250058",
        {},
        FLORENCE_PACIFIC,
        10,
        "exact",
    ),
    ("google viewport link", "https://www.google.com/maps/@33.9755,-118.2250,18z", {}, FLORENCE_PACIFIC, 30, "street"),
    ("google search link", "https://www.google.com/maps/search/33.9755,+-118.2250", {}, FLORENCE_PACIFIC, 30, "exact"),
    (
        "whatsapp encoded google link",
        "Mira https://maps.google.com/maps?q=33.9755%2C-118.2250&z=17&hl=es",
        {},
        FLORENCE_PACIFIC,
        30,
        "exact",
    ),
    (
        "apple ll link",
        "https://maps.apple.com/?ll=33.9755,-118.2250&q=Dropped%20Pin",
        {},
        FLORENCE_PACIFIC,
        30,
        "exact",
    ),
    (
        "apple link by name",
        "https://maps.apple.com/?q=Florence+Ave+%26+Pacific+Blvd",
        {},
        FLORENCE_PACIFIC,
        150,
        "street",
    ),
    (
        "osm marker link",
        "https://www.openstreetmap.org/?mlat=33.9755&mlon=-118.2250#map=18/33.9755/-118.2250",
        {},
        FLORENCE_PACIFIC,
        30,
        "exact",
    ),
    ("osm map link", "https://www.openstreetmap.org/#map=16/33.9755/-118.2250", {}, FLORENCE_PACIFIC, 30, "landmark"),
    ("geo uri", "geo:33.9755,-118.2250", {}, FLORENCE_PACIFIC, 30, "exact"),
    ("decimal pair", "33.9755, -118.2250", {}, FLORENCE_PACIFIC, 30, "exact"),
    ("decimal pair with space", "estoy en 33.9755 -118.2250", {}, FLORENCE_PACIFIC, 30, "exact"),
    ("degrees minutes seconds", "33°58'32.0\"N 118°13'30.0\"W", {}, FLORENCE_PACIFIC, 30, "exact"),
    ("hemisphere letters", "33.9755 N, 118.2250 W", {}, FLORENCE_PACIFIC, 30, "exact"),
    ("dropped minus sign", "33.9755, 118.2250", {}, FLORENCE_PACIFIC, 30, "exact"),
    ("swapped pair", "-118.2250, 33.9755", {}, FLORENCE_PACIFIC, 30, "exact"),
    ("two decimals is a zip-sized guess", "33.98, -118.23", {}, FLORENCE_PACIFIC, 1500, "zip"),
    ("cross streets en", "Florence and Pacific", {}, FLORENCE_PACIFIC, 150, "street"),
    ("cross streets with types", "Pacific Blvd & Florence Ave", {}, FLORENCE_PACIFIC, 150, "street"),
    (
        "corner of, with city",
        "corner of florence ave and pacific blvd, huntington park",
        {},
        FLORENCE_PACIFIC,
        150,
        "street",
    ),
    ("typos in both streets", "florance & pasific", {}, FLORENCE_PACIFIC, 150, "street"),
    ("slash", "Gage/Santa Fe", {}, GAGE_SANTA_FE, 150, "street"),
    ("ordinal street", "at 7th and Hoover", {}, SEVENTH_HOOVER, 150, "street"),
    ("blvd abbreviations", "Firestone & Long Beach Blvd", {}, FIRESTONE_LONG_BEACH, 150, "street"),
    ("uppercase", "SLAUSON AND ATLANTIC", {}, ATLANTIC_SLAUSON, 150, "street"),
    ("reversed order", "wilshire @ alvarado", {}, ALVARADO_WILSHIRE, 150, "street"),
    ("spanish y", "Florence y Pacific", {}, FLORENCE_PACIFIC, 150, "street"),
    ("spanish with town nickname", "en la Pacific y Gage en HP", {}, GAGE_PACIFIC, 150, "street"),
    (
        "spanish esquina con accents",
        "esquina de la Avenida Florence con la Atlántico",
        {},
        FLORENCE_ATLANTIC,
        150,
        "street",
    ),
    ("spanish ordinal", "séptima y Hoover", {}, SEVENTH_HOOVER, 150, "street"),
    ("spanish street that is also a city", "Atlantic y Santa Ana", {}, ATLANTIC_SANTA_ANA, 150, "street"),
    ("spanish av. abbreviation", "Av. Firestone y State", {}, FIRESTONE_STATE, 150, "street"),
    ("spanish cerca de", "cerca de la Soto y Whittier", {}, SOTO_WHITTIER, 150, "street"),
    ("estimated crossing of two listed streets", "Slauson y Santa Fe", {}, SLAUSON_SANTA_FE, 300, "landmark"),
    ("street and city", "Pacific Blvd, Huntington Park", {}, GAGE_PACIFIC, 1000, "zip"),
    ("between two cross streets", "on Pacific between Florence and Gage", {}, (33.9785, -118.2249), 350, "zip"),
    ("spanish entre", "en la Pacific entre Gage y Slauson", {}, (33.9853, -118.2249), 420, "zip"),
    ("landmark en", "MacArthur Park", {}, ALVARADO_WILSHIRE, 300, "landmark"),
    ("landmark es with typo", "afuera del parque mcarthur", {}, ALVARADO_WILSHIRE, 300, "landmark"),
    ("landmark station", "at Union Station now", {}, UNION_STATION, 300, "landmark"),
    ("landmark es accents", "en la estación Firestone", {}, FIRESTONE_STATION, 300, "landmark"),
    ("zip", "90255", {}, HUNTINGTON_PARK, 2500, "zip"),
    ("zip in a sentence", "migra en el 90280 ahorita", {}, SOUTH_GATE, 3000, "zip"),
    ("zip+4", "90201-1234", {}, BELL_GARDENS, 2500, "zip"),
    ("city", "Bell Gardens", {}, BELL_GARDENS, 3000, "city"),
    ("city with typo", "bell gardnes", {}, BELL_GARDENS, 3000, "city"),
    ("city two words", "South Gate", {}, SOUTH_GATE, 3000, "city"),
    ("city nickname", "Huntinton Park", {}, HUNTINGTON_PARK, 3000, "city"),
    ("orange county city from zipcodes", "Santa Ana", {}, SANTA_ANA, 6000, "city"),
    ("neighborhood", "Boyle Heights", {}, BOYLE_HEIGHTS, 3000, "zip"),
    ("florence in kentucky box", "Florence", {"bounds": KENTUCKY}, FLORENCE_KY, 10000, "city"),
]


@pytest.mark.parametrize("label,text,extra,expected,tolerance_m,precision", CASES, ids=[c[0] for c in CASES])
def test_phrasing_is_located_within_tolerance(label, text, extra, expected, tolerance_m, precision):
    kwargs = {"bounds": LA, **extra}
    found = geo.locate(text, **kwargs)
    assert found is not None, label
    assert metres((found.lat, found.lon), expected) <= tolerance_m, (label, found)
    assert found.precision == precision, (label, found)
    assert found.precision_m >= 1 and found.label and found.source


def test_three_streets_without_between_offer_each_corner():
    found = geo.locate("Pacific, Florence, Gage", bounds=LA)
    assert {c.label for c in found.candidates} == {
        "Pacific Blvd & Florence Ave, Huntington Park",
        "Pacific Blvd & Gage Ave, Huntington Park",
    }


AMBIGUOUS = [
    ("Bell", {"Bell", "Bell Gardens"}),
    ("afuera de la escuela en Bell", {"Bell", "Bell Gardens"}),
    ("la migra esta en bell ahorita", {"Bell", "Bell Gardens"}),
]


@pytest.mark.parametrize("text,labels", AMBIGUOUS)
def test_ambiguous_place_returns_candidates_to_ask_about(text, labels):
    found = geo.locate(text, bounds=LA)
    assert {c.label for c in found.candidates} == labels
    assert found.needs_confirmation and found.confidence < geo.CLEAR_CONFIDENCE
    assert all(metres((c.lat, c.lon), BELL_GARDENS) < 4000 for c in found.candidates)


def test_florence_in_a_box_with_two_florences_offers_both():
    found = geo.locate("Florence", bounds=OHIO_VALLEY)
    assert {c.label for c in found.candidates} == {"Florence, IN", "Florence, KY"}


def test_florence_alone_stays_in_la_and_asks_back():
    found = geo.locate("Florence", bounds=LA)
    south, west, north, east = LA
    assert south <= found.lat <= north and west <= found.lon <= east
    assert found.needs_confirmation  # could be the neighborhood or anywhere along Florence Ave


UNPLACED = [
    ("the Home Depot on Slauson", "one street and a chain store: ask for the cross street"),
    ("I see two vans and agents", "no place at all"),
    ("", "empty"),
    ("   ", "blank"),
    ("https://maps.app.goo.gl/AbCdEf123", "a short link needs the network"),
    ("41042", "a Kentucky ZIP outside the box"),
    ("Gage and Avalon", "listed streets whose corners are too far apart to extend"),
    ("Whittier & Atlantic", "unplaceable cross streets are not the city of Whittier"),
    ("99.5, -200.1", "not coordinates on Earth"),
]


@pytest.mark.parametrize("text,why", UNPLACED, ids=[u[1] for u in UNPLACED])
def test_unplaceable_answer_returns_none(text, why):
    assert geo.locate(text, bounds=LA) is None, why


def test_estimated_crossing_says_so_and_asks_to_confirm():
    found = geo.locate("Slauson y Santa Fe", bounds=LA)
    assert found.label.endswith("(estimated)") and found.source == "gazetteer~"
    assert found.needs_confirmation


def test_short_link_is_recognised_so_the_flow_can_ask_for_a_pin():
    assert geo.is_short_link("mira https://maps.app.goo.gl/AbCdEf123")
    assert not geo.is_short_link("https://maps.google.com/?q=33.9,-118.2")


def test_malformed_pin_falls_back_to_the_words():
    found = geo.locate("Florence y Pacific", lat="nan-ish", lon="x", bounds=LA)
    assert found.source == "gazetteer"


def test_as_dict_keeps_the_contract_fields():
    found = geo.locate("Bell", bounds=LA)
    assert set(found.as_dict()) == {"lat", "lon", "precision", "precision_m", "label", "source", "confidence"}


def test_clear_answer_needs_no_confirmation():
    assert not geo.locate("Florence y Pacific", bounds=LA).needs_confirmation
    assert geo.locate("90255", bounds=LA).needs_confirmation


def test_words_fold_accents_ordinals_and_filler():
    assert geo.words("Esquina de la Avenida Atlántico y la 7a") == ["atlantico", "7th"]
    assert geo.words("Seventh St & Hoover") == ["7th", "hoover"]


@pytest.mark.parametrize(
    "metres_,name",
    [(10, "exact"), (30, "exact"), (31, "street"), (300, "landmark"), (2500, "zip"), (4000, "city"), (50000, "city")],
)
def test_precision_class_names_the_error_radius(metres_, name):
    assert geo.precision_class(metres_) == name


def test_coordinators_gazetteer_file_is_used(tmp_path: Path):
    places = tmp_path / "places.yaml"
    places.write_text(
        "places:\n  - {name: Parque Central, kind: landmark, lat: 34.0, lon: -118.0, aliases: [el parque central]}\n",
        encoding="utf-8",
    )
    found = geo.locate("en el Parque Central", bounds=LA, places=places)
    assert (found.lat, found.lon, found.precision) == (34.0, -118.0, "landmark")
    assert geo.locate("Florence y Pacific", bounds=LA, places=tmp_path / "missing.yaml") is None


def test_shipped_gazetteer_entries_name_known_streets_and_lie_in_bounds():
    g = geo.load_places()
    assert len(g.intersections) >= 30 and len(g.places) >= 20
    for streets, _city, lat, lon in g.intersections:
        assert streets <= set(g.streets), streets
        assert geo._in_bounds(lat, lon, LA)
    for place in g.places:
        assert geo._in_bounds(place.lat, place.lon, LA), place.name


def test_check_places_reports_coordinators_mistakes_by_line(tmp_path: Path):
    bad = tmp_path / "places.yaml"
    bad.write_text(
        """streets:
  pacific: [Pacific Blvd]
  gage: [Gage Ave]
intersections:
  - {at: [pacific, florence], city: HP, lat: 33.9, lon: -118.2, source: metro}
  - {at: [pacific, gage], city: HP, lat: -118.2, lon: 33.9, source: metro}
  - {at: [gage, pacific], city: HP, lat: x, lon: 33.9}
places:
  - {name: Park, kind: plaza, lat: 34, lon: -118, source: pin}
  - {kind: city}
""",
        encoding="utf-8",
    )
    problems = geo.check_places(bad)
    assert [line for line, _ in problems] == [5, 6, 7, 7, 9, 10]
    assert "unknown street id 'florence'" in problems[0][1]
    assert "not a point on Earth" in problems[1][1]
    # the locator skips the bad entries instead of failing
    assert geo.locate("Pacific y Florence", bounds=LA, places=bad) is None
    assert geo.locate("Park", bounds=LA, places=bad).label == "Park"


def test_check_places_passes_the_shipped_gazetteer_and_reports_broken_yaml(tmp_path: Path):
    assert geo.check_places(geo.DEFAULT_PLACES) == []
    broken = tmp_path / "places.yaml"
    broken.write_text("streets: [unclosed\n", encoding="utf-8")
    assert geo.check_places(broken)[0][1].startswith("not valid YAML")
    assert geo.locate("Florence y Pacific", bounds=LA, places=broken) is None


# ---- the optional online geocoder, against a local stand-in for Nominatim -------------
class FakeNominatim:
    """A loopback HTTP server answering Nominatim's /search like the real one, recording queries."""

    def __init__(self, answers: dict):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        self.queries: list[dict] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                fake.queries.append(query)
                if query.get("q") == "hang":
                    fake.release.wait(10)  # never answers in time: the client's timeout must fire
                body = json.dumps(answers.get(query.get("q"), [])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.spec = f"nominatim=http://127.0.0.1:{self.server.server_port}"

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nominatim():
    answers = {
        "Ramona Gardens": [
            {
                "lat": "34.0617",
                "lon": "-118.2003",
                "display_name": "Ramona Gardens, Boyle Heights",
                "boundingbox": ["34.0590", "34.0645", "-118.2040", "-118.1965"],
            }
        ],
        "Lexington": [
            {
                "lat": "38.0406",
                "lon": "-84.5037",
                "display_name": "Lexington, Kentucky",
                "boundingbox": ["37.8", "38.2", "-84.7", "-84.3"],
            }
        ],
    }
    server = FakeNominatim(answers)
    yield server
    server.stop()


def test_online_geocoder_places_text_inside_bounds_and_caches_it(r, nominatim):
    from bot.geo import online

    found = online.geocode(r, "Ramona Gardens", nominatim.spec, bounds=LA)
    assert metres((found.lat, found.lon), (34.0617, -118.2003)) < 5
    assert (found.source, found.confidence) == ("online", online.CONFIDENCE)
    assert 400 < found.precision_m < 500  # half the diagonal of the answer's 600 m box: honest, so confirmed
    query = nominatim.queries[0]
    assert query["bounded"] == "1" and query["viewbox"]  # the service is told the box too
    again = online.geocode(r, "ramona  GARDENS", nominatim.spec, bounds=LA)
    assert again == found and len(nominatim.queries) == 1  # answered from the Redis cache
    assert "Ramona" not in "".join(r.keys("*"))  # the cache keeps a digest, never the words


def test_online_geocoder_refuses_answers_outside_bounds_and_remembers_misses(r, nominatim):
    from bot.geo import online

    assert online.geocode(r, "Lexington", nominatim.spec, bounds=LA) is None
    assert online.geocode(r, "Lexington", nominatim.spec, bounds=LA) is None
    assert len(nominatim.queries) == 1
    assert online.geocode(r, "nowhere at all", nominatim.spec, bounds=LA) is None


def test_online_geocoder_gives_up_at_its_timeout_without_caching(r, nominatim):
    from bot.geo import online

    assert online.geocode(r, "hang", nominatim.spec, bounds=LA, timeout_s=0.2) is None
    assert r.dbsize() == 0


def test_online_geocoder_is_off_without_a_spec_and_rejects_bad_specs(r):
    from bot.geo import online

    assert online.geocode(r, "Ramona Gardens", "", bounds=LA) is None
    assert online.parse_spec("nominatim") == ("nominatim", "https", "nominatim.openstreetmap.org")
    for bad in ("google", "nominatim=ftp://x", "nominatim=https://"):
        with pytest.raises(ValueError):
            online.parse_spec(bad)
