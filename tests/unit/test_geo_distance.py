"""Great-circle distances (globe.geo.distance_km, haversine_km)."""
import numpy as np
import pytest

from globe.geo import distance_km, haversine_km, resolve

PARIS, LONDON, NYC = (48.8566, 2.3522), (51.5074, -0.1278), (40.7128, -74.0060)


def test_geodesic_paris_london():
    assert distance_km(PARIS, LONDON) == pytest.approx(343.9, abs=1.0)


def test_geodesic_is_symmetric_and_zero_on_itself():
    assert distance_km(PARIS, NYC) == pytest.approx(distance_km(NYC, PARIS))
    assert distance_km(PARIS, PARIS) == 0.0


def test_distance_accepts_places():
    assert distance_km(resolve("France", "Paris"), resolve("UK", "London")) == pytest.approx(343, abs=5)


@pytest.mark.parametrize("bad", [(91.0, 0.0), ("north", 0.0), (1.0,), None, (float("nan"), 0.0)])
def test_distance_rejects_invalid_points_with_a_clear_message(bad):
    with pytest.raises(ValueError, match="a="):
        distance_km(bad, PARIS)


def test_haversine_scalar_close_to_geodesic():
    d = haversine_km(*PARIS, *NYC)
    assert isinstance(d, float)
    assert d == pytest.approx(distance_km(PARIS, NYC), rel=0.005)


def test_haversine_is_vectorised_and_broadcasts():
    lats = np.array([PARIS[0], LONDON[0], NYC[0]])
    lons = np.array([PARIS[1], LONDON[1], NYC[1]])
    d = haversine_km(lats, lons, PARIS[0], PARIS[1])
    assert d.shape == (3,)
    assert d[0] == 0.0
    assert d[1] == pytest.approx(343.5, abs=2)
    assert d[2] == pytest.approx(5837, abs=15)


def test_haversine_across_the_antimeridian_is_short():
    assert haversine_km(0.0, 179.9, 0.0, -179.9) == pytest.approx(22.24, abs=0.1)


def test_haversine_antipodes_is_half_the_circumference():
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(np.pi * 6371.0088, rel=1e-9)


def _random_pairs(n: int, seed: int = 3) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Pairs at every scale: near each other, near each paper threshold, near-antipodal, at the poles."""
    import random

    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        a = (rng.uniform(-90, 90), rng.uniform(-540, 540))  # longitudes beyond +-180 too
        kind = rng.choice(("near", "far", "antipode", "pole"))
        if kind == "near":
            scale = rng.choice((0.001, 0.01, 0.2, 2, 8, 30))
            b = (max(-90.0, min(90.0, a[0] + rng.gauss(0, scale))), a[1] + rng.gauss(0, scale))
        elif kind == "antipode":
            b = (max(-90.0, min(90.0, -a[0] + rng.gauss(0, 0.01))), a[1] + 180 + rng.gauss(0, 0.01))
        elif kind == "pole":
            b = (rng.choice((-90.0, 90.0)), rng.uniform(-180, 180))
        else:
            b = (rng.uniform(-90, 90), rng.uniform(-180, 180))
        pairs.append((a, b))
    return pairs


def test_the_geodesic_is_geopys_to_a_micrometre_everywhere():
    """PROJ's Karney solver (pyproj) stands in for geographiclib's, the one geopy uses: same metres."""
    from geopy.distance import geodesic

    for a, b in _random_pairs(3000):
        expected = geodesic(a, b).km
        assert distance_km(a, b) == pytest.approx(expected, abs=1e-9), (a, b)


def test_the_bulk_geodesic_equals_the_pairwise_one():
    from globe.geo.distance import geodesic_km

    pairs = _random_pairs(500, seed=8)
    lat1, lon1, lat2, lon2 = (np.array(column) for column in zip(*((*a, *b) for a, b in pairs)))
    assert geodesic_km(lat1, lon1, lat2, lon2).tolist() == [distance_km(a, b) for a, b in pairs]
    assert geodesic_km([], [], [], []).shape == (0,)
