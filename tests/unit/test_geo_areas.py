"""Regions, islands and landmarks named in the city slot (globe.geo.resolve levels beyond "city")."""
import pytest

from globe.geo import AREA_LEVELS, PLACE_LEVELS, country_code, distance_km, resolve
from globe.geo.areas import read_places
from globe.geo.gazetteer import areas
from globe.geo.countries import is_known_code


@pytest.mark.parametrize(
    "country, name, level, latlon, within_km",
    [
        ("Mexico", "Yucatan", "region", (20.70, -89.00), 200),  # not Ejido Yucatán, 2,900 km away
        ("India", "Kerala", "region", (10.40, 76.30), 250),
        ("Italy", "Sicily", "island", (37.55, 14.20), 150),
        ("France", "Corsica", "island", (42.15, 9.10), 100),
        ("Japan", "Hokkaido", "island", (43.30, 142.80), 300),
        ("Italy", "Tuscany", "region", (43.45, 11.10), 130),
        ("Cambodia", "Angkor Wat", "landmark", (13.4125, 103.867), 10),
        ("France", "Mont Saint-Michel", "landmark", (48.636, -1.511), 5),
        ("Philippines", "Luzon", "island", (16.00, 121.00), 400),  # not the village Luzon, 1,191 km away
        ("Canada", "Ontario", "region", (50.00, -85.00), 900),  # not a hamlet 3,188 km away
    ],
)
def test_a_region_island_or_landmark_resolves_at_its_level_within_its_extent(country, name, level, latlon, within_km):
    place = resolve(country, name)
    assert place.level == level
    assert place.country_code == country_code(country)
    assert distance_km(place, latlon) <= within_km


@pytest.mark.parametrize(
    "country, name, level",
    [("Italy", "Sicilia", "island"), ("Italy", "Toscana", "region"), ("Germany", "Bayern", "region"),
     ("Japan", "北海道", "island"), ("France", "Normandie", "region"), ("France", "Normandy", "region"),
     ("Ecuador", "Galapagos Islands", "island"), ("United Kingdom", "Isle of Skye", "island")],
)
def test_native_english_and_decorated_names_find_the_same_kind_of_place(country, name, level):
    assert resolve(country, name).level == level


@pytest.mark.parametrize(
    "country, name, expected",
    [("Japan", "Hokaido", "Hokkaidō"), ("India", "Kerela", "Kerala"), ("Mexico", "Yukatan", "Yucatán")],
)
def test_typos_of_an_area_in_the_stated_country_find_it(country, name, expected):
    place = resolve(country, name)
    assert (place.name, place.level != "city") == (expected, True)
    assert place.confidence < resolve(country, expected).confidence


@pytest.mark.parametrize(
    "country, name, latlon",
    [("USA", "New York", (40.71, -74.01)), ("Canada", "Quebec", (46.81, -71.21)), ("Spain", "Valencia", (39.47, -0.38))],
)
def test_a_big_city_wins_over_the_region_of_the_same_name(country, name, latlon):
    place = resolve(country, name)
    assert place.level == "city" and distance_km(place, latlon) < 25


@pytest.mark.parametrize("country, name", [("Italy", "Pisa"), ("Spain", "Huesca"), ("Italy", "Capri")])
def test_a_town_that_gives_its_name_to_its_province_or_island_stays_a_city(country, name):
    assert resolve(country, name).level == "city"


def test_without_a_country_an_area_is_still_found():
    place = resolve(None, "Sicily")
    assert (place.level, place.country_code) == ("island", "IT")


def test_a_country_listed_as_a_province_elsewhere_stays_a_country():
    place = resolve("China", "Taiwan")  # the regions data lists Taiwan under CN
    assert (place.level, place.country_code) == ("country", "TW")


def test_a_us_state_that_is_also_a_country_name_is_the_state_in_the_usa():
    place = resolve("USA", "Georgia")
    assert (place.level, place.country_code, place.admin1) == ("region", "US", "GA")


@pytest.mark.parametrize("country, name", [("Germany", "Angkor Wat"), ("Spain", "Hokkaido"), ("France", "Kerala")])
def test_a_place_that_is_elsewhere_is_not_matched_to_a_look_alike_town(country, name):
    place = resolve(country, name)
    assert (place.level, place.country_code) == ("country", country_code(country))


def test_a_region_point_is_its_population_centre():
    sapporo = (43.06, 141.35)
    assert distance_km(resolve("Japan", "Hokkaido"), sapporo) < 50  # not the empty middle of the island


def test_areas_carry_only_area_levels_and_no_geonames_id():
    place = resolve("Italy", "Tuscany")
    assert place.level in AREA_LEVELS and place.level in PLACE_LEVELS
    assert place.geonameid is None and place.population == 0


def test_hand_kept_places_are_well_formed():
    rows = read_places()
    assert len(rows) > 300
    for level, names, countries, lat, lon in rows:
        assert level in AREA_LEVELS and names
        assert all(is_known_code(cc) for cc in countries), (names, countries)
        assert (lat is None) == (lon is None)
        if lat is not None:
            assert -90 <= lat <= 90 and -180 <= lon <= 180


def test_every_hand_kept_place_is_found_in_each_of_its_countries():
    idx = areas()
    for level, names, countries, _, _ in read_places():
        for cc in countries:
            row = idx.find(names[0], cc)
            assert row is not None and idx.level[row] == level, (names[0], cc)


def test_read_places_names_the_bad_line(tmp_path):
    bad = tmp_path / "places.tsv"
    bad.write_text("volcano\tEtna\tIT\t37.75\t14.99\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"places.tsv:1: unknown kind 'volcano'"):
        read_places(bad)


def test_an_area_in_the_country_slot_scopes_the_city_and_is_the_fallback():
    assert resolve("Bali", None).level == "island"
    assert resolve("Hawaii", None).level == "region"
    place = resolve("Sicily", "Taormina")
    assert (place.level, place.country_code) == ("city", "IT")


def test_a_big_city_known_by_the_name_only_as_an_alternate_does_not_beat_a_far_region():
    assert resolve("China", "Henan").level == "region"  # GeoNames also calls Hengyang (Hunan) "Henan"
    assert resolve("USA", "New York").level == "city"  # New York City is within reach of the state


@pytest.mark.parametrize(
    "country, name, city",
    [("Canada", "Ontario", (43.65, -79.38)), ("Australia", "New South Wales", (-33.87, 151.21)),
     ("Canada", "British Columbia", (49.28, -123.12))],
)
def test_a_big_region_is_placed_where_its_people_live(country, name, city):
    assert distance_km(resolve(country, name), city) < 150  # not in the empty middle of the region


def test_an_overseas_territory_listed_as_a_region_is_the_territory():
    assert (resolve("France", "La Réunion").country_code, resolve("France", "La Réunion").level) == ("RE", "country")


def test_no_area_name_resolves_to_a_far_city_unless_a_big_city_bears_that_name():
    from globe.geo import country_name, haversine_km
    from globe.geo.gazetteer import CITY_OVER_COUNTRY_MIN_POPULATION, gazetteer

    idx, gaz = areas(), gazetteer()
    far = []
    for row in range(len(idx)):
        place = resolve(country_name(idx.cc[row]), idx.name[row])
        if place is None or place.level != "city":
            continue
        km = haversine_km(place.lat, place.lon, idx.lat[row], idx.lon[row])
        own_name = gaz.has_primary_name(gaz.row_of(place.geonameid), idx.name[row])
        if km > 1000 and not (own_name and place.population >= CITY_OVER_COUNTRY_MIN_POPULATION):
            far.append((idx.cc[row], idx.name[row], place.name, round(float(km))))
    assert far == []


@pytest.mark.parametrize(
    "country, name, latlon",
    [("Poland", "Małopolska", (50.06, 19.94)), ("Poland", "Małopolskie", (50.06, 19.94)),
     ("Spain", "Illes Balears", (39.6, 2.9)), ("Italy", "Toscana", (43.5, 11.2))],
)
def test_a_regions_iso_3166_2_local_name_finds_it(country, name, latlon):
    place = resolve(country, name)
    assert place.level in ("region", "island") and distance_km(place, latlon) < 150


@pytest.mark.parametrize(
    "country, name, latlon, within_km",
    [("Canada", "Rocky Mountains", (51.18, -115.57), 300), ("USA", "Rocky Mountains", (39.5, -106.0), 400),
     ("Peru", "Sacred Valley of the Incas", (-13.33, -72.08), 40), ("Portugal", "Douro Valley", (41.16, -7.79), 80),
     ("South Africa", "Garden Route", (-33.96, 22.46), 200), ("Italy", "Lake Maggiore", (45.95, 8.65), 40)],
)
def test_informal_regions_and_natural_sites_are_placed_in_the_stated_country(country, name, latlon, within_km):
    assert distance_km(resolve(country, name), latlon) <= within_km


@pytest.mark.parametrize("name", ["County Kerry", "Co. Kerry", "Kerry County", "Kerry"])
def test_a_county_named_with_or_without_the_word_county_is_the_county(name):
    place = resolve("Ireland", name)
    assert (place.level, place.name) == ("region", "Kerry")


@pytest.mark.parametrize(
    "country, name, latlon",
    [("Japan", "Ibaraki", (36.3, 140.3)), ("South Africa", "Mpumalanga", (-25.9, 29.8)),
     ("Iran", "Golestan", (36.8, 54.7))],
)
def test_a_first_order_region_wins_over_a_smaller_city_of_its_name_lying_elsewhere(country, name, latlon):
    place = resolve(country, name)
    assert place.level == "region" and distance_km(place, latlon) < 150


@pytest.mark.parametrize(
    "country, name, latlon",
    [("USA", "Washington", (38.9, -77.04)), ("Egypt", "Giza", (30.01, 31.21)), ("Canada", "Quebec", (46.81, -71.21)),
     ("Japan", "Ibaraki, Osaka", (34.82, 135.57)), ("Canada", "Victoria, British Columbia", (48.43, -123.37))],
)
def test_a_big_city_or_one_scoped_by_its_region_stays_the_city(country, name, latlon):
    place = resolve(country, name)
    assert place.level == "city" and distance_km(place, latlon) < 30
