"""Great-circle distances: the exact geodesic for pairs and arrays, vectorised haversine for bulk.

``distance_km`` is the WGS-84 geodesic (Karney's solver, the one geopy's ``geodesic`` uses), the
reference the paper's km buckets are defined against, and ``geodesic_km`` the same for arrays;
``haversine_km`` is a numpy sphere formula (error < 0.5 % versus the geodesic), OSV-5M's measure.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def _latlon(point: Any, label: str) -> tuple[float, float]:
    """Accept (lat, lon) pairs or anything with .lat/.lon (e.g. Place); validate ranges."""
    if hasattr(point, "lat") and hasattr(point, "lon"):
        lat, lon = point.lat, point.lon
    else:
        try:
            lat, lon = point
        except (TypeError, ValueError):
            raise ValueError(f"{label}={point!r} is not a (lat, lon) pair or a Place") from None
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise ValueError(f"{label}={point!r}: lat/lon must be numbers") from None
    if not (-90.0 <= lat <= 90.0) or not math.isfinite(lon):
        raise ValueError(f"{label}={point!r}: latitude must be in [-90, 90] and longitude finite")
    return lat, lon


def distance_km(a: Any, b: Any) -> float:
    """Geodesic (WGS-84) distance in km between two (lat, lon) pairs or Places.

    Karney's solver, as geopy's ``geodesic(a, b).km`` uses it, but PROJ's C implementation of it
    (through pyproj) rather than geographiclib's pure-Python one: the two agree to a few
    nanometres (``tests/unit/test_geo_distance.py``), and the C one costs ~3 us a pair instead
    of ~190 us, which was the largest single cost of scoring an eval row (``bench/eval_stages.py``).
    """
    (lat1, lon1), (lat2, lon2) = _latlon(a, "a"), _latlon(b, "b")
    return _wgs84().inv(lon1, lat1, lon2, lat2)[2] / 1000.0


def geodesic_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """:func:`distance_km` for arrays of coordinates at once (one PROJ call, no Python per pair).

    Inputs must already be valid (latitudes in [-90, 90], finite longitudes): this is the bulk
    path of the report, whose rows were checked when read.
    """
    arrays = [np.ascontiguousarray(x, dtype=np.float64).ravel() for x in (lon1, lat1, lon2, lat2)]
    if not arrays[0].size:
        return np.zeros(0)
    return _wgs84().inv(*arrays)[2] / 1000.0


@lru_cache(maxsize=1)
def _wgs84() -> Any:
    """PROJ's WGS-84 geodesic (the ellipsoid geopy's ``geodesic`` defaults to)."""
    from pyproj import Geod

    return Geod(ellps="WGS84")


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in km on a sphere; numpy-broadcasting, returns float for scalars."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (lat1, lon1, lat2, lon2))
    dlat = lat2 - lat1
    dlon = lon2 - lon1
    h = np.sin(dlat / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2.0) ** 2
    d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return float(d) if d.ndim == 0 else d


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere (n x 3) for degrees ``lat``/``lon``: what the k-d trees index."""
    la, lo = np.radians(lat), np.radians(lon)
    cos_la = np.cos(la)
    return np.column_stack((cos_la * np.cos(lo), cos_la * np.sin(lo), np.sin(la)))
