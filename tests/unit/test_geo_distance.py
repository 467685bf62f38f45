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
