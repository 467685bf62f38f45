"""Scoring a predictions CSV: ours, the released eval's, or a third party's, with no server.

Our CSVs carry ``gt_*``, ``pred_*``, ``status``; the released eval wrote the ground-truth columns
plus ``prediction`` (JSON ``{"data": text}``), lower-cased ``pred_city``/``pred_country`` and
empty ``pred_LAT``/``pred_LON``, and counted a failed request as a wrong answer (its text was
``""``; a row is left out of its CSV only when scoring it raised, and still counts in the
denominator). :func:`scored_rows` reads either:

* truth: ``gt_lat``/``gt_lon``/``gt_country``/``gt_city``, else the ground-truth spellings
  (``LAT``/``latitude``..., ``globe-data``'s aliases), with country/city reverse-geocoded when absent;
  and, for the released string accuracy, ``released_truth``: the ground-truth columns as the
  released eval read them (:func:`globe.eval.metrics.released_truth_cells`);
* prediction: ``pred_`` + a latitude/longitude alias (``pred_lat``, ``pred_LON``, ``pred_longitude``...)
  when present and not ``reresolve``, else the place of ``pred_country``/``pred_city``, else of the
  answer parsed from ``prediction``;
* status: the ``status`` column, else derived (``ok``, ``unresolved``, ``no_answer`` or
  ``no_prediction``);
* level (``pred_level``, "city", "country", "region"...; a prediction that is not a city never
  counts within 1/25 km): the level of the place when this module resolves the names
  (:func:`globe.scoring.score_names`), else the
  ``pred_level`` column, else (older or third-party CSVs) "country" when there is a
  ``pred_country`` but no ``pred_city``, "city" otherwise
  (:func:`globe.eval.metrics.prediction_level`).

Distances are always recomputed from coordinates, so a rescored run equals the run's own summary.
"""
from __future__ import annotations

import json
import math
from array import array
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from globe.data.layouts import map_columns
from globe.eval.consensus import samples_from_cell
from globe.eval.data import ReverseGeocoder, reverse_geocoded_names

PlaceResolver = Callable[[str | None, str | None], Any]


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def prediction_text(value: Any) -> str:
    """The model's text from a ``prediction`` cell, unwrapping the released ``{"data": ...}`` JSON."""
    text = "" if value is None else str(value)
    stripped = text.strip()
    if stripped.startswith("{") and '"data"' in stripped:
        try:
            decoded = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(decoded, Mapping) and isinstance(decoded.get("data"), str):
            return decoded["data"]
    return text


def columns_by_alias(columns: Sequence[str], prefix: str = "") -> dict[str, str]:
    """Logical column (``lat``, ``country``...) -> its name among the ``columns`` that start with ``prefix``.

    The part after the prefix is matched by ``globe-data``'s aliases, so ``pred_LAT`` (the released
    eval's spelling), ``pred_lat`` and ``gt_latitude`` are all found without a list of their own.
    """
    named = [column for column in columns if column.lower().startswith(prefix.lower())]
    found = map_columns([column[len(prefix):] for column in named])
    return {logical: named[i] for logical, i in found.index.items() if i is not None}


def _valid_pair(lat: float | None, lon: float | None) -> bool:
    from globe.scoring import valid_point

    return valid_point(lat, lon) is not None


#: How ``error_km`` is measured: ``geodesic`` (WGS-84, GLOBE's, G3's, GeoRanker's) or ``haversine``
#: (a sphere of radius 6371 km, OSV-5M's); they differ by under 0.5 %.
DISTANCES = ("geodesic", "haversine")


def error_measure(distance: str = "geodesic") -> Callable[[Any, Any, Any, Any], Any]:
    """``(truth lats, truth lons, predicted lats, predicted lons) -> km`` arrays by ``distance``
    (:data:`DISTANCES`), one vectorised call for a whole report; ValueError names the choices."""
    from globe.geo import haversine_km
    from globe.geo.distance import geodesic_km

    if distance == "geodesic":
        return geodesic_km
    if distance == "haversine":
        return lambda *coordinates: np.atleast_1d(haversine_km(*coordinates))
    raise ValueError(f"distance {distance!r}: choose one of {', '.join(DISTANCES)}")


def scored_rows(
    rows: Sequence[Mapping[str, Any]],
    resolver: PlaceResolver | None = None,
    reresolve: bool = False,
    reverse_geocode: ReverseGeocoder | None = None,
    distance: str = "geodesic",
) -> list[dict[str, Any]]:
    """Rows normalised for :func:`globe.eval.metrics.summarize` (see the module docstring);
    ``error_km`` measured by ``distance`` (:data:`DISTANCES`)."""
    from globe.answers import parse_answer
    from globe.eval.metrics import prediction_level, released_truth_cells

    measure = error_measure(distance)
    from globe.geo.countries import expand_country_code
    from globe.scoring import score_names

    if resolver is None:
        from globe.geo import resolve as resolver
    if not rows:
        return []
    columns = list(rows[0].keys())
    truth = {**columns_by_alias(columns), **columns_by_alias(columns, "gt_")}  # ours (gt_*) win
    prediction = columns_by_alias(columns, "pred_")
    lat_column, lon_column = truth.get("lat"), truth.get("lon")
    country_column, city_column = truth.get("country"), truth.get("city")
    pred_lat_column, pred_lon_column = prediction.get("lat"), prediction.get("lon")
    if lat_column is None or lon_column is None:
        raise ValueError(f"cannot score: no ground-truth latitude/longitude column among {columns}")

    out: list[dict[str, Any]] = []
    measured: list[dict[str, Any]] = []  # rows whose error_km is computed below, and their coordinates:
    coordinates = [array("d"), array("d"), array("d"), array("d")]  # truth lat, lon, predicted lat, lon
    for row in rows:
        status = _text(row.get("status"))
        gt_lat, gt_lon = _float(row.get(lat_column)), _float(row.get(lon_column))
        country = _text(row.get(country_column)) if country_column else None
        country = expand_country_code(country) if country else None
        scored: dict[str, Any] = {
            "gt_index": row.get("gt_index"),
            "gt_lat": gt_lat, "gt_lon": gt_lon,
            "gt_country": country,
            "gt_city": _text(row.get(city_column)) if city_column else None,
            "pred_country": _text(row.get("pred_country")),
            "pred_city": _text(row.get("pred_city")),
            "pred_lat": None, "pred_lon": None, "pred_level": None, "error_km": None,
        }
        scored["released_truth"] = released_truth_cells(row)  # the released string accuracy's truth and rows
        text = prediction_text(row.get("prediction"))
        if "prediction" in row:
            scored["prediction"] = text  # the released string accuracy reads the raw text
        if not (scored["pred_country"] or scored["pred_city"]) and text.strip():
            parsed = parse_answer(text)
            scored["pred_country"], scored["pred_city"] = parsed.country, parsed.city
        has_names = bool(scored["pred_country"] or scored["pred_city"])
        answered = status is None or status in ("ok", "unresolved")
        if answered:
            level = None
            if not reresolve and pred_lat_column and pred_lon_column:
                scored["pred_lat"] = _float(row.get(pred_lat_column))
                scored["pred_lon"] = _float(row.get(pred_lon_column))
                level = prediction_level({**scored, "pred_level": row.get("pred_level")})
            if not _valid_pair(scored["pred_lat"], scored["pred_lon"]) and has_names:
                # an unplaceable name (or a geocoder error) is a wrong answer, not a crash
                placed = score_names(scored["pred_country"], scored["pred_city"], resolver=resolver)
                if placed.place is not None:
                    scored["pred_lat"], scored["pred_lon"] = float(placed.place.lat), float(placed.place.lon)
                    level = placed.level or prediction_level(scored)
            if not _valid_pair(scored["pred_lat"], scored["pred_lon"]):
                scored["pred_lat"] = scored["pred_lon"] = None
            else:
                scored["pred_level"] = level
        placed = scored["pred_lat"] is not None
        if status is None or status in ("ok", "unresolved"):
            if placed:
                status = "ok"
            elif has_names:
                status = "unresolved"
            else:
                status = "no_answer" if text.strip() else "no_prediction"
        if status == "ok" and placed and _valid_pair(gt_lat, gt_lon):
            # Always recomputed from the coordinates (a CSV's own error_km may be another measure's or stale):
            # one vectorised geodesic call for the whole report costs about a microsecond a row.
            measured.append(scored)
            for column, value in zip(coordinates, (gt_lat, gt_lon, scored["pred_lat"], scored["pred_lon"])):
                column.append(value)
        scored["status"] = status
        if "samples" in row:  # a run with several samples per image (globe.eval.runner)
            scored["samples"] = samples_from_cell(row["samples"])
        out.append(scored)

    if measured:
        errors = measure(*(np.frombuffer(column, dtype=np.float64) for column in coordinates))
        for scored, error in zip(measured, errors.tolist()):
            scored["error_km"] = error
    _fill_truth_places(out, reverse_geocode)
    return out


def _fill_truth_places(rows: list[dict[str, Any]], reverse_geocode: ReverseGeocoder | None) -> None:
    todo = [row for row in rows if (row["gt_country"] is None or row["gt_city"] is None)
            and _valid_pair(row["gt_lat"], row["gt_lon"])]
    names = reverse_geocoded_names([row["gt_lat"] for row in todo], [row["gt_lon"] for row in todo], reverse_geocode)
    for row, (country, city) in zip(todo, names, strict=True):
        row["gt_country"] = row["gt_country"] or country
        row["gt_city"] = row["gt_city"] or city
