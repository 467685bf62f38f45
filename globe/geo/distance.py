"""Great-circle distances: exact geodesic for single pairs, vectorised haversine for bulk.

``distance_km`` uses geopy's WGS-84 geodesic (Karney), the reference the paper's km buckets are
defined against; ``haversine_km`` is a numpy sphere formula for millions of pairs (error < 0.5 %
versus the geodesic, irrelevant at the 1/25/200/750/2500 km thresholds).
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

    The value of geopy's ``geodesic(a, b).km``, bit for bit: the same Karney solver
    (geographiclib) on geopy's WGS-84 ellipsoid in km, with geopy's longitude normalisation,
    called directly. geopy's wrapper (``Point`` parsing, a ``Distance`` object) cost a third of
    the time, and evaluation computes one distance per row (``bench/eval_client.py``).
    """
    (lat1, lon1), (lat2, lon2) = _latlon(a, "a"), _latlon(b, "b")
    return float(_wgs84_km().Inverse(lat1, _geopy_longitude(lon1), lat2, _geopy_longitude(lon2), _DISTANCE)["s12"])


_DISTANCE = 1025  # geographiclib's Geodesic.DISTANCE outmask, what geopy asks for


@lru_cache(maxsize=1)
def _wgs84_km() -> Any:
    """geopy's WGS-84 ``Geodesic`` (semi-major axis in km, so ``s12`` is in km)."""
    from geographiclib.geodesic import Geodesic
    from geopy.distance import ELLIPSOIDS

    major_km, _, flattening = ELLIPSOIDS["WGS-84"]
    assert Geodesic.DISTANCE == _DISTANCE
    return Geodesic(major_km, flattening)


def _geopy_longitude(lon: float) -> float:
    """A longitude as geopy's ``Point`` normalises it: into [-180, 180) when outside [-180, 180]."""
    if abs(lon) <= 180:
        return lon
    modulo = math.fmod(lon, 360.0) or 0.0
    return modulo + 360.0 if modulo < -180 else modulo - 360.0 if modulo >= 180 else modulo


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
