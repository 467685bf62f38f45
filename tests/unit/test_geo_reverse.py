"""Coordinates -> nearest populated place (globe.geo.reverse, reverse_many)."""
import numpy as np
import pytest

from globe.geo import distance_km, haversine_km, reverse, reverse_many
from globe.geo.gazetteer import gazetteer


@pytest.mark.parametrize(
    "lat, lon, name, code",
    [(48.85341, 2.3488, "Paris", "FR"), (35.6895, 139.69171, "Tokyo", "JP"), (-33.86785, 151.20732, "Sydney", "AU"),
     (64.13548, -21.89541, "Reykjavík", "IS"), (40.78343, -73.96625, "Manhattan", "US")],
)
def test_reverse_finds_the_city_at_its_own_coordinates(lat, lon, name, code):
    place = reverse(lat, lon)
    assert place.name == name
    assert place.country_code == code
    assert place.level == "city"
    assert place.confidence > 0.9


def test_reverse_is_the_true_nearest_place():
    """Compare with brute-force great-circle search, including high latitudes and the antimeridian."""
    gaz = gazetteer()
    rng = np.random.default_rng(7)
    lats = np.concatenate([rng.uniform(-60, 75, 40), [78.2, 69.65, -54.8, 65.0, 0.0]])
    lons = np.concatenate([rng.uniform(-180, 180, 40), [15.6, 18.95, -68.3, 179.99, -179.99]])
    for lat, lon, place in zip(lats, lons, reverse_many(lats, lons)):
        brute = haversine_km(lat, lon, gaz.lat, gaz.lon).min()
        assert haversine_km(lat, lon, place.lat, place.lon) == pytest.approx(brute, abs=1e-6)


def test_nearest_place_may_be_a_district_unless_small_places_are_excluded():
    assert reverse(48.8566, 2.3522).name == "Paris 04 Hôtel-de-Ville"  # a GeoNames section of Paris, 300 m away
    assert reverse(48.8566, 2.3522, min_population=1_000_000).name == "Paris"


def test_reverse_confidence_decays_with_distance():
    near = reverse(48.86, 2.35)
    far = reverse(-48.0, -130.0)  # South Pacific
    assert far.confidence < 0.01 < near.confidence


def test_reverse_many_marks_invalid_rows_none_and_keeps_going():
    out = reverse_many([48.85341, float("nan"), 95.0, 35.6895], [2.3488, 0.0, 0.0, 139.69171])
    assert [p.name if p else None for p in out] == ["Paris", None, None, "Tokyo"]


def test_reverse_many_accepts_lists_and_rejects_mismatched_lengths():
    assert len(reverse_many([], [])) == 0
    with pytest.raises(ValueError, match="latitudes"):
        reverse_many([1.0, 2.0], [1.0])


@pytest.mark.parametrize("lat, lon", [(91, 0), (float("nan"), 0), ("x", 0), (None, 1)])
def test_reverse_rejects_invalid_coordinates(lat, lon):
    with pytest.raises(ValueError, match="reverse"):
        reverse(lat, lon)


def test_reverse_of_a_resolved_city_is_that_city():
    from globe.geo import resolve

    place = resolve("Germany", "Munich")
    back = reverse(place.lat, place.lon)
    assert back.geonameid == place.geonameid
    assert distance_km(back.latlon, place.latlon) == 0.0


@pytest.mark.parametrize(
    ("lat", "lon", "nearest", "city"),
    [
        (41.9028, 12.4964, "Trevi", "Rome"),  # the nearest place is a rione of Rome
        (40.6782, -73.9442, "Bushwick", "Brooklyn"),
        (-22.9519, -43.2105, "Copacabana", "Rio de Janeiro"),
    ],
)
def test_city_level_names_the_city_rather_than_the_nearest_district(lat, lon, nearest, city) -> None:
    assert reverse(lat, lon).name == nearest
    assert reverse(lat, lon, city_level=True).name == city


def test_city_level_keeps_a_town_near_a_big_city() -> None:
    # Versailles is 17 km from Paris: a photo taken there is labelled Versailles, not Paris.
    assert reverse(48.8049, 2.1204, city_level=True).name == "Versailles"


def test_city_level_far_from_anything_falls_back_to_the_nearest_place() -> None:
    assert reverse(0.0, -150.0, city_level=True) == reverse(0.0, -150.0)
