"""Where a country-only answer lands: the country's geographic centre, never its capital.

A country-only answer ("country: Thailand") must not score as if the capital had been named;
the paper's online geocoder (Azure Maps) also places a country at its centre.
"""
from collections import Counter

import numpy as np
import pytest

from globe.geo import distance_km, resolve, reverse, reverse_many
from globe.geo.gazetteer import country_centre_row, gazetteer

PARIS, BANGKOK, WASHINGTON, JAKARTA, MOSCOW = (48.85, 2.35), (13.75, 100.50), (38.90, -77.04), (-6.21, 106.85), (55.75, 37.62)


def test_france_lands_in_central_france_far_from_paris():
    place = resolve("France", None)
    assert distance_km(place.latlon, PARIS) > 150
    assert 46.0 < place.lat < 47.5 and 1.5 < place.lon < 3.5
    assert reverse(place.lat, place.lon).country_code == "FR"


def test_thailand_is_not_bangkok():
    place = resolve("Thailand", None)
    assert distance_km(place.latlon, BANGKOK) > 100
    assert reverse(place.lat, place.lon).country_code == "TH"


def test_an_unknown_city_falls_back_to_the_same_centre_as_no_city():
    assert resolve("Thailand", "Xyzzyville").latlon == resolve("Thailand", None).latlon


@pytest.mark.parametrize(
    "country, code, lat_range, lon_range, capital, min_km",
    [
        ("USA", "US", (36, 44), (-104, -90), WASHINGTON, 1000),  # mid-continent (Kansas), not the East Coast
        ("Indonesia", "ID", (-8, 2), (108, 125), JAKARTA, 500),  # on Borneo/Sulawesi, not Java, not the sea
        ("Russia", "RU", (52, 66), (45, 110), MOSCOW, 1000),  # beyond the Volga
        ("Chile", "CL", (-40, -30), (-74, -69), (-33.46, -70.65), 100),  # the middle of the long strip
    ],
)
def test_centre_of_large_or_scattered_countries(country, code, lat_range, lon_range, capital, min_km):
    place = resolve(country, None)
    assert place.country_code == code and place.level == "country"
    assert lat_range[0] < place.lat < lat_range[1] and lon_range[0] < place.lon < lon_range[1], place
    assert distance_km(place.latlon, capital) > min_km
    assert reverse(place.lat, place.lon).country_code == code  # snapped: on land, a real place of that country


def test_every_country_with_20_places_has_its_point_inside_itself():
    gaz = gazetteer()
    sizes = Counter(gaz.cc)
    codes = sorted(code for code, n in sizes.items() if n >= 20)
    assert len(codes) > 150
    rows = [gaz.country_point[code] for code in codes]
    found = reverse_many(gaz.lat[rows], gaz.lon[rows])
    wrong = {code: place.country_code for code, place in zip(codes, found) if place.country_code != code}
    assert wrong == {}


def test_centre_is_the_snapped_mean_of_one_place_per_cell():
    # a dense cluster of 50 villages in the west and one town in the east: each counts once per cell,
    # so the centre is half-way (snapped to the middle town), not in the cluster
    lat = np.array([10.0 + 0.001 * i for i in range(50)] + [10.0, 10.0])
    lon = np.array([0.0 + 0.001 * i for i in range(50)] + [2.0, 4.0])
    assert country_centre_row(lat, lon, np.arange(len(lat))) == 50


def test_centre_is_antimeridian_safe():
    # Fiji-like: places at 179 E and 179 W; averaging degrees would give 0 (Africa)
    lat, lon = np.array([-17.0, -17.0, -17.2]), np.array([179.0, -179.0, 179.9])
    row = country_centre_row(lat, lon, np.arange(3))
    assert row == 2


def test_country_point_keeps_its_level_and_confidence():
    place = resolve("France", None)
    assert (place.level, place.confidence, place.name, place.country_code) == ("country", 0.3, "France", "FR")
