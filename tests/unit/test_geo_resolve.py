"""Predicted (country, city) names -> places (globe.geo.resolve), by category of spelling."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from globe.geo import PLACE_LEVELS, distance_km, resolve

TOKYO, MOSCOW, NYC, LA = (35.69, 139.69), (55.75, 37.62), (40.71, -74.01), (34.05, -118.24)
MUNICH, FLORENCE, BEIJING = (48.14, 11.58), (43.77, 11.25), (39.90, 116.40)


def assert_city(place, country_code, latlon, km=25.0):
    assert place is not None, "expected a place, got None"
    assert place.level == "city"
    assert place.country_code == country_code
    assert distance_km(place.latlon, latlon) <= km, f"{place} is {distance_km(place.latlon, latlon):.0f} km off"
    assert 0.0 <= place.confidence <= 1.0


@pytest.mark.parametrize(
    "country, city, code, latlon",
    [
        ("Germany", "Munich", "DE", MUNICH), ("Italy", "Florence", "IT", FLORENCE), ("Japan", "Tokyo", "JP", TOKYO),
        ("United States", "New York City", "US", NYC), ("Australia", "Sydney", "AU", (-33.87, 151.21)),
        ("Kenya", "Nairobi", "KE", (-1.29, 36.82)), ("Chile", "Santiago", "CL", (-33.45, -70.67)),
    ],
)
def test_exact_names(country, city, code, latlon):
    assert_city(resolve(country, city), code, latlon)


@pytest.mark.parametrize(
    "country, city, code, latlon",
    [
        ("USA", "NYC", "US", NYC), ("US", "LA", "US", LA), ("USA", "SF", "US", (37.77, -122.42)),
        ("USA", "DC", "US", (38.90, -77.04)), ("USA", "Philly", "US", (39.95, -75.16)), ("USA", "Vegas", "US", (36.17, -115.14)),
        ("Brazil", "Rio", "BR", (-22.91, -43.18)), ("Mexico", "CDMX", "MX", (19.43, -99.13)),
        ("Russia", "St. Petersburg", "RU", (59.94, 30.31)), ("Russia", "Saint Petersburg", "RU", (59.94, 30.31)),
        ("Russia", "St Petersburg", "RU", (59.94, 30.31)), ("Germany", "Frankfurt", "DE", (50.11, 8.68)),
    ],
)
def test_aliases_and_abbreviations(country, city, code, latlon):
    assert_city(resolve(country, city), code, latlon)


@pytest.mark.parametrize(
    "country, city, code, latlon",
    [
        ("Deutschland", "München", "DE", MUNICH), ("Germany", "Munchen", "DE", MUNICH), ("Italia", "Firenze", "IT", FLORENCE),
        ("Germany", "Köln", "DE", (50.94, 6.96)), ("Germany", "Koln", "DE", (50.94, 6.96)),
        ("Brasil", "São Paulo", "BR", (-23.55, -46.63)), ("Brazil", "Sao Paulo", "BR", (-23.55, -46.63)),
        ("Türkiye", "İstanbul", "TR", (41.01, 28.98)), ("Iceland", "Reykjavik", "IS", (64.15, -21.94)),
        ("Colombia", "Bogotá", "CO", (4.71, -74.07)), ("Vietnam", "Hà Nội", "VN", (21.03, 105.85)),
    ],
)
def test_diacritics_and_endonyms(country, city, code, latlon):
    assert_city(resolve(country, city), code, latlon)


@pytest.mark.parametrize(
    "country, city, code, latlon",
    [
        ("Japan", "東京", "JP", TOKYO), ("日本", "大阪", "JP", (34.69, 135.50)), ("Россия", "Москва", "RU", MOSCOW),
        ("中国", "北京", "CN", BEIJING), ("대한민국", "서울", "KR", (37.57, 126.98)), ("Ελλάδα", "Αθήνα", "GR", (37.98, 23.73)),
        ("مصر", "القاهرة", "EG", (30.04, 31.24)), ("Thailand", "กรุงเทพมหานคร", "TH", (13.75, 100.50)),
        ("Russia", "Moskva", "RU", MOSCOW),
    ],
)
def test_other_scripts(country, city, code, latlon):
    assert_city(resolve(country, city), code, latlon)


@pytest.mark.parametrize(
    "country, city, code, latlon",
    [
        ("India", "Bombay", "IN", (19.07, 72.88)), ("Vietnam", "Saigon", "VN", (10.82, 106.63)),
        ("China", "Peking", "CN", BEIJING), ("India", "Calcutta", "IN", (22.57, 88.36)), ("India", "Madras", "IN", (13.08, 80.27)),
        ("Ukraine", "Kiev", "UA", (50.45, 30.52)), ("Ukraine", "Kyiv", "UA", (50.45, 30.52)), ("Burma", "Rangoon", "MM", (16.87, 96.20)),
        ("Ceylon", "Kandy", "LK", (7.29, 80.63)), ("Persia", "Isfahan", "IR", (32.65, 51.67)), ("China", "Canton", "CN", (23.13, 113.26)),
        ("Russia", "Leningrad", "RU", (59.94, 30.31)),
    ],
)
def test_old_names(country, city, code, latlon):
    assert_city(resolve(country, city), code, latlon)


@pytest.mark.parametrize(
    "country, city, code, latlon",
    [
        ("Spain", "Barcellona", "ES", (41.39, 2.17)), ("Netherlands", "Amsterdm", "NL", (52.37, 4.89)),
        ("Australia", "Melborne", "AU", (-37.81, 144.96)), ("Canada", "Torronto", "CA", (43.65, -79.38)),
        ("USA", "Chicgo", "US", (41.88, -87.63)), ("USA", "Los Angles", "US", LA), ("USA", "San Fransisco", "US", (37.77, -122.42)),
        ("France", "Marseile", "FR", (43.30, 5.37)), ("Phillipines", "Manila", "PH", (14.60, 120.98)),
    ],
)
def test_small_typos(country, city, code, latlon):
    assert_city(resolve(country, city), code, latlon)


def test_fuzzy_matches_score_below_exact_ones():
    assert resolve("Canada", "Torronto").confidence < resolve("Canada", "Toronto").confidence


@pytest.mark.parametrize(
    "country, city, code, latlon",
    [
        ("USA", "Springfield, Illinois", "US", (39.80, -89.64)), ("USA", "Springfield, MO", "US", (37.21, -93.29)),
        ("USA", "Portland, Oregon", "US", (45.52, -122.68)), ("USA", "Portland, Maine", "US", (43.66, -70.26)),
        ("USA", "Portland, ME", "US", (43.66, -70.26)), ("USA", "Seattle, WA", "US", (47.61, -122.33)),
        ("USA", "Atlanta, Georgia", "US", (33.75, -84.39)), (None, "Atlanta, Georgia", "US", (33.75, -84.39)),
        (None, "Tbilisi, Georgia", "GE", (41.72, 44.79)), ("UK", "Edinburgh, Scotland", "GB", (55.95, -3.19)),
        ("Canada", "Toronto, Ontario", "CA", (43.65, -79.38)), (None, "Paris, France", "FR", (48.86, 2.35)),
        ("India", "Agra (Taj Mahal)", "IN", (27.18, 78.01)), ("Texas", "Austin", "US", (30.27, -97.74)),
        ("USA", "Washington, D.C.", "US", (38.90, -77.04)), ("USA", "Vancouver, WA", "US", (45.64, -122.66)),
    ],
)
def test_city_with_state_or_country_qualifier(country, city, code, latlon):
    assert_city(resolve(country, city), code, latlon)


@pytest.mark.parametrize(
    "city, code, latlon",
    [
        ("Paris", "FR", (48.86, 2.35)), ("東京", "JP", TOKYO), ("Portland", "US", (45.52, -122.68)),
        ("Washington", "US", (38.90, -77.04)), ("Singapore", "SG", (1.29, 103.85)), ("NYC", "US", NYC),
        ("Nice", "FR", (43.70, 7.27)), ("Cambridge", "GB", (52.21, 0.12)),
    ],
)
def test_city_without_country(city, code, latlon):
    assert_city(resolve(None, city), code, latlon)
    assert_city(resolve("", city), code, latlon)


def test_most_populous_match_inside_the_predicted_country_wins():
    assert_city(resolve("USA", "Nice"), "US", (39.12, -122.85), km=50)  # Nice, California, not Nice, France
    assert_city(resolve("Costa Rica", "San José"), "CR", (9.93, -84.08))
    assert_city(resolve(None, "San Jose"), "US", (37.34, -121.89))


def test_wrong_side_of_a_border_still_finds_a_big_city():
    place = resolve("France", "Geneva")
    assert_city(place, "CH", (46.20, 6.15))
    assert place.confidence < resolve("Switzerland", "Geneva").confidence


def test_us_state_in_the_city_slot_is_a_region_at_its_population_centre():
    place = resolve("USA", "Hawaii")
    assert (place.level, place.country_code, place.admin1) == ("region", "US", "HI")
    assert distance_km(place, (21.31, -157.86)) < 50  # on O'ahu, where most people live
    assert_city(resolve("USA", "New York"), "US", NYC)  # the city of that name wins over the state


def test_a_territory_named_as_the_city_resolves_in_that_territory():
    assert_city(resolve("China", "Hong Kong"), "HK", (22.28, 114.17))
    assert resolve("China", "Taiwan").level == "country"
    assert resolve("China", "Taiwan").country_code == "TW"


@pytest.mark.parametrize(
    "country, city, code, latlon",
    [("Indonesia", "Bali", "ID", (-8.40, 115.20)), ("Greece", "Santorini", "GR", (36.41, 25.43)),
     ("Spain", "Mallorca", "ES", (39.62, 2.95))],
)
def test_famous_islands_resolve_at_island_level(country, city, code, latlon):
    place = resolve(country, city)
    assert (place.level, place.country_code) == ("island", code)
    assert distance_km(place, latlon) < 40


@pytest.mark.parametrize("city", ["Unknown", "N/A", "None", "Countryside", "Beach", "Downtown", "City center", "Coast"])
def test_non_answers_in_the_city_slot_fall_back_to_the_country(city):
    place = resolve("France", city)
    assert (place.level, place.country_code) == ("country", "FR")
    assert resolve(None, city) is None


@pytest.mark.parametrize(
    "country, city, code",
    [("Japan", None, "JP"), ("Japan", "", "JP"), ("Spain", None, "ES"), (None, "Japan", "JP"), (None, "Brazil", "BR"),
     ("Georgia", None, "GE"), ("Korea", None, "KR"), ("Japan", "Paris", "JP")],
)
def test_country_only_falls_back_to_the_country_point(country, city, code):
    place = resolve(country, city)
    assert place.level == "country"
    assert place.country_code == code
    assert place.confidence == pytest.approx(0.3)
    assert place.geonameid is not None and place.population > 0


def test_a_landmark_is_the_site_not_a_look_alike_town():
    place = resolve("France", "Mont Saint-Michel")  # not Mont-Saint-Éloi, 300 km away
    assert (place.level, place.country_code) == ("landmark", "FR")
    assert distance_km(place, (48.636, -1.511)) < 2


@pytest.mark.parametrize(
    "country, city",
    [("Narnia", "Cair Paravel"), (None, "asdkjhasd"), (None, "Xyzzyville"), ("Atlantis", None), ("Europe", None), ("", "")],
)
def test_nonexistent_places_return_none(country, city):
    assert resolve(country, city) is None


@pytest.mark.parametrize("country, city", [(None, None), ("", ""), ("  ", "\n"), (123, None), (None, ["Paris"])])
def test_empty_or_non_string_input_returns_none(country, city):
    assert resolve(country, city) is None


def test_ten_kilobytes_of_garbage_returns_none():
    import random

    rng = random.Random(0)
    garbage = "".join(chr(rng.randrange(32, 0x3000)) for _ in range(10_000))
    assert resolve(garbage, garbage) is None
    assert resolve(None, garbage) is None


def test_repeated_calls_return_the_same_object():
    assert resolve("USA", "NYC") is resolve("USA", "NYC")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=60)), st.one_of(st.none(), st.text(max_size=60)))
def test_no_input_string_raises(country, city):
    place = resolve(country, city)
    assert place is None or (0.0 <= place.confidence <= 1.0 and place.level in PLACE_LEVELS)
