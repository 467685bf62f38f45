"""Geolocation metrics as small pure functions over plain lists.

Conventions every function shares (so one table means one thing):

* A distance of ``None`` or NaN means the row has no usable prediction: the request failed,
  the answer had no place, or the place could not be resolved. It is **wrong at every
  threshold**, scores 0 GeoScore and counts as an infinite error for the median (so the
  median is ``None`` when more than half the rows have no prediction). Rows are never dropped:
  the denominator is always every row of the ground truth.
* Accuracies are fractions in [0, 1] (tables print them as percentages).
* "Within X km" means ``error <= X`` (threshold rule ``le``, GLOBE's and GeoCLIP's). G3 and
  GeoRanker count ``error < X`` (rule ``lt``); every function taking ``rule`` applies either, and
  the summary records which (``threshold_rule``). The rule only moves rows lying exactly on a
  threshold, which a geodesic distance in floating point rarely does; it is there so a number
  can be produced under a peer's stated rule.
* GeoScore is GeoGuessr's ``5000 * exp(-d / 1492.7)`` per row, averaged (max 5000).
* **A country-level prediction never counts at a city-scale threshold.** When an answer
  resolves only to a country (``pred_level == "country"``: no city, or one the geocoder cannot place),
  its point is the country's reference point (``globe.geo``), which can land a few km from a
  photo by chance. Such a row is wrong at every threshold of at most
  :data:`CITY_SCALE_MAX_KM` (the paper's 1 km and 25 km), whatever its distance; at 200, 750
  and 2500 km, in the median and in GeoScore it counts by its distance like any other row.
  ``n_country_level`` in the summary says how many answered rows this concerns.
* A row's level is its ``pred_level`` (``"city"`` or ``"country"``). When that is empty or
  absent (CSVs written before the column existed, third-party files), the row is
  country-level if it has a ``pred_country`` but no ``pred_city``, city-level otherwise
  (:func:`prediction_level`).
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Iterable, Mapping, Sequence

from globe.eval.consensus import RankedPlace, rank_places
from globe.geo.distance import distance_km
from globe.scoring import ANSWERED_STATUSES

#: The thresholds of the paper's tables (IM2GPS3K, MP16-Reason-Test), in km.
THRESHOLDS_KM: tuple[float, ...] = (1, 25, 200, 750, 2500)
#: GeoGuessr's scale constant: a guess 1492.7 km away scores 5000/e.
GEOSCORE_SCALE_KM = 1492.7
GEOSCORE_MAX = 5000.0
#: The released eval's string rule: one name must contain the other and be >= 70% of its length.
STRING_MATCH_RATIO = 0.7
#: Thresholds at or below this many km are city scale: a country-level prediction never counts there.
CITY_SCALE_MAX_KM = 25.0
#: Values of ``pred_level``: how precisely the prediction was placed (``globe.geo.Place.level``).
PRED_LEVELS = ("city", "country", "region", "island", "landmark")
#: Top-k depths reported for a run with several samples per image (those with k <= samples).
TOP_KS: tuple[int, ...] = (1, 3, 5)
#: How a distance compares with a threshold: ``le`` counts d <= t (GLOBE, GeoCLIP), ``lt`` d < t (G3, GeoRanker).
THRESHOLD_RULES: dict[str, str] = {"le": "d <= t", "lt": "d < t"}
DEFAULT_THRESHOLD_RULE = "le"
#: Upper edges of the agreement bins (``(0, 0.2]``, ``(0.2, 0.4]``...); agreement 0 has its own bin.
AGREEMENT_BIN_EDGES: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)


def _distance(value: Any) -> float:
    """A row's error in km, or ``inf`` when it has none (see module conventions)."""
    if value is None or value == "":
        return math.inf
    try:
        distance = float(value)
    except (TypeError, ValueError):
        return math.inf
    return math.inf if math.isnan(distance) or distance < 0 else distance


def prediction_level(row: Mapping[str, Any]) -> str:
    """The row's ``pred_level`` ("city", "country", "region"...), else guessed from its names (module conventions)."""
    level = str(row.get("pred_level") or "").strip().lower()
    if level:
        return level
    has_country = bool(str(row.get("pred_country") or "").strip())
    has_city = bool(str(row.get("pred_city") or "").strip())
    return "country" if has_country and not has_city else "city"


def check_threshold_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`THRESHOLD_RULES`, else ValueError naming the choices."""
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"threshold rule {rule!r}: choose one of " + ", ".join(
            f"{name} ({meaning})" for name, meaning in THRESHOLD_RULES.items()))
    return rule


def counts_within(error_km: Any, threshold_km: float, level: str | None = None, rule: str = DEFAULT_THRESHOLD_RULE) -> bool:
    """Whether one row counts as correct at ``threshold_km`` under ``rule`` (``le``: d <= t, ``lt``:
    d < t): a row placed at a level that is not a city (country, region, island, landmark:
    :func:`globe.scoring.is_city`) never does at city scale."""
    from globe.scoring import is_city

    if level is not None and not is_city(level) and threshold_km <= CITY_SCALE_MAX_KM:
        return False
    distance = _distance(error_km)
    return distance < threshold_km if check_threshold_rule(rule) == "lt" else distance <= threshold_km


def top_k_within(ranked: Sequence[RankedPlace], truth: tuple[float, float], k: int, threshold_km: float,
                 rule: str = DEFAULT_THRESHOLD_RULE) -> bool:
    """True when one of the ``k`` top-ranked places counts within ``threshold_km`` of ``truth``.

    "Counts" is :func:`counts_within`: ``<=``, and a country-level place
    never counts at a city-scale threshold (1 and 25 km), as for a single answer.
    """
    return any(counts_within(distance_km(truth, place.latlon), threshold_km, place.level,
                             rule) for place in ranked[:k])


def _levels(levels: Sequence[str | None] | None, n: int) -> Sequence[str | None]:
    """``levels`` checked against the row count; ``None`` means every prediction is city-level."""
    if levels is None:
        return [None] * n
    if len(levels) != n:
        raise ValueError(f"got {len(levels)} prediction levels for {n} errors")
    return levels


def threshold_key(threshold_km: float) -> str:
    """``acc_25km`` for 25: the summary key of a threshold."""
    return f"acc_{threshold_km:g}km"


def accuracy_within(
    errors_km: Sequence[Any], threshold_km: float, levels: Sequence[str | None] | None = None,
    rule: str = DEFAULT_THRESHOLD_RULE,
) -> float:
    """Fraction of rows counting at ``threshold_km`` (:func:`counts_within`; missing errors are wrong).

    ``levels``: each row's ``pred_level``, aligned with ``errors_km``; ``None`` means all city-level.
    """
    if not errors_km:
        return 0.0
    levels = _levels(levels, len(errors_km))
    return sum(counts_within(error, threshold_km, level, rule) for error, level in zip(errors_km, levels)) / len(errors_km)


def distance_accuracies(
    errors_km: Sequence[Any],
    thresholds_km: Iterable[float] = THRESHOLDS_KM,
    levels: Sequence[str | None] | None = None,
    rule: str = DEFAULT_THRESHOLD_RULE,
) -> dict[str, float]:
    """``{"acc_1km": ..., "acc_25km": ..., ...}`` for the given thresholds."""
    return {threshold_key(threshold): accuracy_within(errors_km, threshold, levels, rule) for threshold in thresholds_km}


def median_km(errors_km: Sequence[Any]) -> float | None:
    """Median error over all rows, missing ones as infinite; ``None`` if that median is infinite or no rows."""
    if not errors_km:
        return None
    median = statistics.median(_distance(error) for error in errors_km)
    return None if math.isinf(median) else float(median)


def geoscore(errors_km: Sequence[Any]) -> float:
    """Mean GeoGuessr score ``5000 * exp(-d / 1492.7)``; a missing error scores 0."""
    if not errors_km:
        return 0.0
    return math.fsum(GEOSCORE_MAX * math.exp(-_distance(error) / GEOSCORE_SCALE_KM) for error in errors_km) / len(errors_km)


def string_match(pred: str | None, truth: str | None, ratio: float = STRING_MATCH_RATIO) -> bool:
    """The released eval's rule (:func:`globe.scoring.released_match`), kept for comparison with published tables.

    Case-insensitive; true when one name contains the other and the shorter is at least
    ``ratio`` of the longer's length. It calls "USA" vs "United States" wrong and "Niger" vs
    "Nigeria" right, which is why :func:`identity_matches` is the headline metric. The
    prediction is stripped, as the released extraction did; the truth is taken as written.
    """
    from globe.scoring import released_match

    return released_match((pred or "").strip(), truth or "", ratio)


def string_accuracy(preds: Sequence[str | None], truths: Sequence[str | None]) -> float:
    """Fraction of rows where :func:`string_match` holds."""
    if not preds:
        return 0.0
    return sum(string_match(pred, truth) for pred, truth in zip(preds, truths, strict=True)) / len(preds)


def released_names(row: Mapping[str, Any], use_cot: bool = True) -> tuple[str | None, str | None]:
    """``(country, city)`` as the released eval read them, for the ``*_acc_string`` metrics.

    From the row's ``prediction`` text with the released extraction
    (:func:`globe.answers.released_answer_fields`: with ``use_cot`` the first ``<answer>`` block,
    else the whole text; without it the first ``country:``/``city:`` anywhere); a failed
    request's text is ``""``, as the released script's was, so the row counts as wrong. Rows
    without a ``prediction`` column (third-party CSVs) use their ``pred_*`` names.
    """
    from globe.answers import released_answer_fields

    if "prediction" not in row:
        good = row.get("status") == "ok"
        return (row.get("pred_country"), row.get("pred_city")) if good else (None, None)
    answered = str(row.get("status")) in ANSWERED_STATUSES
    return released_answer_fields(str(row.get("prediction") or "") if answered else "", use_cot=use_cot)


#: Which ground truth the ``*_acc_string`` metrics compare with (the summary's ``string_truth``).
STRING_TRUTHS = ("globe", "released")


def released_truth_cells(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """A ground-truth row's ``(country, city)`` as the released eval compared them, or ``None`` when it skipped the row.

    Its loop kept a row with an image id (``IMG_ID``, else ``id``) and coordinates (``LAT`` else
    ``latitude``, ``LON`` else ``longitude``) that are non-empty and that ``float`` reads (no range
    check); the other rows are out of its numerator and its denominator. A kept row is compared
    with its own ``country`` and ``city`` cells as written: OSV-5M's ``FI`` stays ``FI`` (so no
    country name matches it) and a file without those columns (IM2GPS3K) compares with ``""``,
    which nothing matches. Column names are exact, as ``csv.DictReader`` gave them.
    """
    if not (row.get("IMG_ID") or row.get("id")):
        return None
    lat = row.get("LAT") or row.get("latitude")
    lon = row.get("LON") or row.get("longitude")
    if not lat or not lon:
        return None
    try:
        float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    return str(row.get("country") or ""), str(row.get("city") or "")


def released_string_accuracies(rows: Sequence[Mapping[str, Any]], use_cot: bool) -> dict[str, Any]:
    """``country_acc_string``, ``city_acc_string`` and ``n_string_rows`` exactly as the released eval printed them.

    Each row needs ``released_truth`` (:func:`released_truth_cells` of its ground-truth cells,
    :func:`globe.eval.score.scored_rows` adds it) and its ``prediction`` text and ``status``
    (:func:`released_names`, with the released reading of ``use_cot``). The names are compared by
    :func:`globe.scoring.released_match` with the truth cell as written; the denominator is the
    rows the released loop kept, a failed request among them counting as wrong. ``None``
    accuracies when it kept no row (the released script stopped there: "No valid data").
    """
    from globe.scoring import released_match

    kept = [row for row in rows if row.get("released_truth") is not None]
    countries = cities = 0
    for row in kept:
        truth_country, truth_city = row["released_truth"]
        country, city = released_names(row, use_cot)
        countries += released_match(country or "", truth_country)
        cities += released_match(city or "", truth_city)
    n = len(kept)
    return {"country_acc_string": countries / n if n else None, "city_acc_string": cities / n if n else None,
            "n_string_rows": n}


def identity_matches(
    pred_countries: Sequence[str | None],
    pred_cities: Sequence[str | None],
    gt_countries: Sequence[str | None],
    gt_cities: Sequence[str | None],
) -> tuple[list[bool], list[bool]]:
    """Per-row ``(country_match, city_match)`` by resolved identity (:func:`globe.scoring.same_place`).

    The accuracy reward's rule: "USA / NYC" matches "United States / New York City", "Manhattan"
    counts for New York City, "Cambridge" does not count for Boston, "Massachusetts" is not a
    country; a row without a prediction matches nothing.
    """
    from globe.scoring import same_place

    countries: list[bool] = []
    cities: list[bool] = []
    for pred_country, pred_city, gt_country, gt_city in zip(pred_countries, pred_cities, gt_countries, gt_cities, strict=True):
        if not (pred_country or pred_city):
            countries.append(False)
            cities.append(False)
            continue
        country_ok, city_ok = same_place(pred_country or None, pred_city or None, gt_country or None, gt_city or None)
        countries.append(bool(country_ok))
        cities.append(bool(city_ok))
    return countries, cities


def _mean(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def group_metrics(
    errors_km: Sequence[Any],
    country_matches: Sequence[bool],
    city_matches: Sequence[bool],
    levels: Sequence[str | None] | None = None,
    rule: str = DEFAULT_THRESHOLD_RULE,
) -> dict[str, Any]:
    """The metrics reported for a whole run and for each continent/country group."""
    return {
        "n": len(errors_km),
        "country_acc": _mean(country_matches),
        "city_acc": _mean(city_matches),
        **distance_accuracies(errors_km, levels=levels, rule=rule),
        "median_km": median_km(errors_km),
        "geoscore": geoscore(errors_km),
    }


def breakdown(
    groups: Sequence[str | None],
    errors_km: Sequence[Any],
    country_matches: Sequence[bool],
    city_matches: Sequence[bool],
    levels: Sequence[str | None] | None = None,
    rule: str = DEFAULT_THRESHOLD_RULE,
) -> dict[str, dict[str, Any]]:
    """:func:`group_metrics` per group label (``None`` labels go to ``"unknown"``), largest groups first."""
    levels = _levels(levels, len(errors_km))
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group or "unknown", []).append(index)
    ordered = sorted(members.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        group: group_metrics(
            [errors_km[i] for i in indices], [country_matches[i] for i in indices], [city_matches[i] for i in indices],
            [levels[i] for i in indices], rule,
        )
        for group, indices in ordered
    }


def top_k_key(k: int, threshold_km: float) -> str:
    """``top3_acc_25km``: the summary key of top-k accuracy at a threshold."""
    return f"top{k}_acc_{threshold_km:g}km"


def agreement_bin(agreement: float) -> str:
    """The label of ``agreement``'s bin: ``"0"`` (no sample placed), ``"(0, 0.2]"`` ... ``"(0.8, 1]"``."""
    if agreement <= 0:
        return "0"
    lower = 0.0
    for upper in AGREEMENT_BIN_EDGES:
        if agreement <= upper:
            return f"({lower:g}, {upper:g}]"
        lower = upper
    return f"({lower:g}, 1]"


def consensus_metrics(rows: Sequence[Mapping[str, Any]], rule: str = DEFAULT_THRESHOLD_RULE) -> dict[str, Any]:
    """Top-k accuracies and agreement of a run with several samples per image; ``{}`` for a single-answer run.

    Each row's ``samples`` is its list of sample places (``globe.eval.consensus.samples_from_cell``:
    a place or ``None`` per sample) or ``None`` (a failed request). Ranking follows
    :func:`globe.eval.consensus.rank_places`. ``top{k}_acc_{d}km``: the share of *all* rows for
    which one of the k top-ranked places counts within d km (:func:`counts_within`, so a
    country-level place never counts at 1/25 km). A row's agreement is its top place's vote
    share (0 without a placed sample or without samples); ``by_agreement`` groups rows into
    :func:`agreement_bin` bins and gives each bin's row count, mean agreement and headline
    accuracy at every threshold (the row's ``error_km``/level, as in the headline table).
    """

    sample_lists = [row.get("samples") for row in rows]
    if not any(isinstance(samples, list) for samples in sample_lists):
        return {}
    n_samples = max(len(samples) for samples in sample_lists if isinstance(samples, list))
    ks = [k for k in TOP_KS if k <= n_samples]
    hits = {top_k_key(k, t): 0 for k in ks for t in THRESHOLDS_KM}
    agreements: list[float] = []
    n_placed_samples = 0
    for row, samples in zip(rows, sample_lists):
        ranked = rank_places(samples) if isinstance(samples, list) and samples else []
        n_placed_samples += sum(place is not None for place in samples or [])
        agreements.append(ranked[0].share if ranked else 0.0)
        lat, lon = row.get("gt_lat"), row.get("gt_lon")
        if not ranked or lat is None or lon is None:
            continue
        distances = [distance_km((lat, lon), place.latlon) for place in ranked[: max(ks)]]
        for k in ks:
            for threshold in THRESHOLDS_KM:
                hits[top_k_key(k, threshold)] += any(
                    counts_within(distance, threshold, place.level, rule) for distance, place in zip(distances[:k], ranked))
    n = len(rows)
    by_bin: dict[str, list[int]] = {}
    for index, value in enumerate(agreements):
        by_bin.setdefault(agreement_bin(value), []).append(index)
    order = ["0"] + [agreement_bin(edge) for edge in AGREEMENT_BIN_EDGES]
    errors = [row.get("error_km") if row.get("status") == "ok" else None for row in rows]
    levels = [prediction_level(row) if row.get("status") == "ok" else None for row in rows]
    return {
        "n_samples": n_samples,
        "n_samples_placed": n_placed_samples,
        **{key: count / n for key, count in hits.items()},
        "agreement_mean": sum(agreements) / n if n else 0.0,
        "by_agreement": {
            label: {
                "n": len(by_bin[label]),
                "agreement_mean": sum(agreements[i] for i in by_bin[label]) / len(by_bin[label]),
                **distance_accuracies([errors[i] for i in by_bin[label]], levels=[levels[i] for i in by_bin[label]],
                                      rule=rule),
            }
            for label in order if label in by_bin
        },
    }


def summarize(rows: Sequence[Mapping[str, Any]], threshold_rule: str = DEFAULT_THRESHOLD_RULE,
              string_truth: str = "globe", use_cot: bool = True) -> dict[str, Any]:
    """The run summary from scored rows; distances compare with thresholds by ``threshold_rule``
    (:data:`THRESHOLD_RULES`), recorded in the summary with the thresholds themselves.

    ``string_truth`` (recorded in the summary, with ``metric_truth`` naming the truth of each
    metric): ``globe`` compares the ``*_acc_string`` names with GLOBE's truth (``gt_country`` /
    ``gt_city``: ISO codes expanded, missing names reverse-geocoded) over every row, reading each
    answer as the released CoT eval did; ``released`` computes them exactly as the released eval
    (:func:`released_string_accuracies`, its reading of ``use_cot``). The identity metrics
    (``country_acc``, ``city_acc``) always use GLOBE's truth, the distance metrics the coordinates.

    Each row needs ``status``, ``pred_country``, ``pred_city``, ``gt_country``, ``gt_city``,
    ``error_km`` (``None`` when missing), and may carry ``pred_level`` (see
    :func:`prediction_level`). A row whose status is not ``"ok"`` counts as wrong
    everywhere, whatever else it holds. Breakdowns group by the truth's ISO country code and
    continent, spelled as names ("Europe", "France"); an unknown truth country groups as
    ``"unknown"``. Rows are taken in the order given; pass them sorted for bit-identical sums.

    Rows of a run with several samples per image also carry ``samples`` (see
    :func:`consensus_metrics`, whose keys are added); their ``pred_*``/``error_km`` are those of
    the top-ranked place, so the headline metrics are the consensus answer's.
    """
    from globe.geo import CONTINENT_NAMES, continent_of, country_code, country_name

    ok = [row.get("status") == "ok" for row in rows]
    errors = [row.get("error_km") if good else None for row, good in zip(rows, ok)]
    levels = [prediction_level(row) if good else None for row, good in zip(rows, ok)]
    pred_countries = [row.get("pred_country") if good else None for row, good in zip(rows, ok)]
    pred_cities = [row.get("pred_city") if good else None for row, good in zip(rows, ok)]
    if string_truth not in STRING_TRUTHS:
        raise ValueError(f"string_truth must be one of {', '.join(STRING_TRUTHS)}, got {string_truth!r}")
    released_countries, released_cities = zip(*(released_names(row) for row in rows)) if rows else ((), ())
    gt_countries = [row.get("gt_country") for row in rows]
    gt_cities = [row.get("gt_city") for row in rows]
    country_matches, city_matches = identity_matches(pred_countries, pred_cities, gt_countries, gt_cities)

    status_counts: dict[str, int] = {}
    for row in rows:
        status = str(row.get("status") or "unknown")
        status_counts[status] = status_counts.get(status, 0) + 1
    codes = [country_code(country) if country else None for country in gt_countries]
    countries = [(country_name(code) or code) if code else None for code in codes]
    continents = [CONTINENT_NAMES.get(continent_of(code), None) if code else None for code in codes]

    check_threshold_rule(threshold_rule)
    overall = group_metrics(errors, country_matches, city_matches, levels, threshold_rule)
    summary: dict[str, Any] = {
        "n": overall.pop("n"),
        "n_failed": sum(str(row.get("status")) not in ANSWERED_STATUSES for row in rows),
        "n_no_answer": status_counts.get("no_answer", 0),
        "n_unresolved": status_counts.get("unresolved", 0),
        "n_country_level": sum(level == "country" for level in levels),
        "n_region_level": sum(level == "region" for level in levels),
        "country_acc": overall.pop("country_acc"),
        "city_acc": overall.pop("city_acc"),
        **(released_string_accuracies(rows, use_cot) if string_truth == "released" else {
            "country_acc_string": string_accuracy(released_countries, gt_countries),
            "city_acc_string": string_accuracy(released_cities, gt_cities),
            "n_string_rows": len(rows),
        }),
        **overall,
        "status_counts": dict(sorted(status_counts.items())),
        "by_continent": breakdown(continents, errors, country_matches, city_matches, levels, threshold_rule),
        "by_country": breakdown(countries, errors, country_matches, city_matches, levels, threshold_rule),
        "thresholds_km": list(THRESHOLDS_KM),
        "threshold_rule": threshold_rule,
    }
    summary["string_truth"] = string_truth
    summary["metric_truth"] = metric_truth(string_truth)
    summary.update(consensus_metrics(rows, threshold_rule))
    return summary


#: What ``metric_truth`` says of each truth.
TRUTH_MEANINGS = {
    "globe": "globe: country codes expanded, missing names reverse-geocoded from the coordinates",
    "released": "released: the file's country/city cells as written, rows without an id or coordinates left out",
}


def metric_truth(string_truth: str) -> dict[str, str]:
    """Which ground truth each summary metric compared with (the summary's ``metric_truth``)."""
    return {
        "country_acc": TRUTH_MEANINGS["globe"],
        "city_acc": TRUTH_MEANINGS["globe"],
        "country_acc_string": TRUTH_MEANINGS[string_truth],
        "city_acc_string": TRUTH_MEANINGS[string_truth],
        "acc_*km, median_km, geoscore": "the coordinates",
    }
