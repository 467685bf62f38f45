"""``globe-eval compare``: your runs beside the published results of the same test set.

A number means little alone: the field reports IM2GPS3K, YFCC4K, Im2GPS, YFCC26k... at 1, 25,
200, 750 and 2500 km. ``published.csv`` (shipped with the package) holds the accuracies papers
report, one row per method and test set, each with its source (paper, table) and how far it was
checked: ``no`` (typed from memory), ``secondary`` (agrees with a third-party summary, not the
paper itself) or ``paper`` (re-read in the paper). Cite only what you have checked yourself.

    globe-eval compare runs/a.json runs/b.json             # markdown table + a.compare.png
    globe-eval compare runs/a.json --latex --plot fig.png  # LaTeX for a paper

A run's summary JSON (``globe-eval`` run or ``score``) records its test set (``dataset``), its
thresholds (``thresholds_km``, else read from its ``acc_<t>km`` keys) and its threshold rule;
runs of different test sets are refused, since their numbers do not compare. Published rows
were scored by their authors' own rules (see the README's metrics section), which moves
numbers only at the margin.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from globe.catalog import find_dataset

#: The thresholds the published table carries, in km.
PUBLISHED_THRESHOLDS_KM: tuple[float, ...] = (1, 25, 200, 750, 2500)
CHECK_LEVELS = ("no", "secondary", "paper")
_ACC_KEY = re.compile(r"^acc_(\d+(?:\.\d+)?)km$")


class CompareError(ValueError):
    """Runs that cannot be compared (different test sets, no test set, unreadable summary)."""


@dataclass(frozen=True)
class Result:
    """One line of a comparison: a run of yours or a published row; accuracies in percent."""

    label: str
    dataset: str
    accuracies: dict[float, float | None]  # threshold km -> accuracy %, None where not reported
    geoscore: float | None = None
    source: str = ""
    table: str = ""
    checked: str = ""  # published rows: no | secondary | paper; runs: ""
    threshold_rule: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def published(self) -> bool:
        return bool(self.source)


def _number(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def load_published(path: str | Path | None = None) -> list[Result]:
    """Every row of the published table (default: the one shipped in ``globe/eval/published.csv``)."""
    if path is None:
        text = resources.files("globe.eval").joinpath("published.csv").read_text(encoding="utf-8")
        where = "globe/eval/published.csv"
    else:
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    rows = []
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
        if row["checked"] not in CHECK_LEVELS:
            raise ValueError(f"{where}:{number}: checked={row['checked']!r}; use one of {', '.join(CHECK_LEVELS)}")
        rows.append(Result(
            label=row["method"], dataset=find_dataset(row["dataset"], evaluable=True).name,
            accuracies={t: _number(row[f"acc_{t:g}km"]) for t in PUBLISHED_THRESHOLDS_KM},
            geoscore=_number(row.get("geoscore")), source=row["source"], table=row["table"],
            checked=row["checked"], threshold_rule=row.get("rule") or "", note=row.get("note") or "",
        ))
    return rows


def _dataset_name(value: str) -> str | None:
    """The catalog name of a summary's ``dataset`` (a name or alias), None for a file path or nothing."""
    try:
        return find_dataset(value, evaluable=True).name if value else None
    except ValueError:
        return None


#: What an old summary's missing rule means: every globe-eval before ``threshold_rule`` was recorded counted d <= t.
LEGACY_RULE = "le"


def _read_summary(path: Path) -> dict[str, Any]:
    """The JSON object of a run summary; CompareError says what the file is instead and which file to pass."""
    hint = "pass the .json summary globe-eval (run or score) writes beside its predictions CSV"
    if path.name.endswith(".run.json"):
        hint = f"this is a run record (the settings of a run); pass its summary {path.name[:-len('.run.json')]}.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompareError(f"{path}: no such run summary (the .json globe-eval writes beside its CSV)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path}: not a JSON run summary ({exc}); {hint}") from None
    if not isinstance(summary, dict) or "n" not in summary:
        what = "a JSON object" if isinstance(summary, dict) else f"a JSON {type(summary).__name__}"
        raise CompareError(f"{path}: {what} without the row count 'n', not a globe-eval run summary; {hint}")
    return summary


def _accuracies(summary: dict[str, Any], path: Path) -> dict[float, float | None]:
    """Threshold km -> accuracy % of a summary: its ``thresholds_km``, else (older summaries) its
    ``acc_<t>km`` keys; CompareError when it has none or one is not a fraction."""
    recorded = summary.get("thresholds_km")
    thresholds = recorded if isinstance(recorded, list) and recorded else sorted(
        float(m.group(1)) for key in summary if (m := _ACC_KEY.match(key)))
    if not thresholds:
        raise CompareError(f"{path}: a summary without accuracies (no thresholds_km, no acc_<t>km keys); "
                           "rescore its CSV with `globe-eval score` to write one")
    accuracies: dict[float, float | None] = {}
    for threshold in thresholds:
        key = f"acc_{float(threshold):g}km"
        value = summary.get(key)
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and 0.0 <= value <= 1.0):
            raise CompareError(f"{path}: {key}={value!r} is not a fraction in [0, 1]; is this a globe-eval summary?")
        accuracies[float(threshold)] = None if value is None else 100.0 * float(value)
    return accuracies


def load_run(path: str | Path, dataset: str | None = None, label: str | None = None) -> Result:
    """A run's summary JSON as a :class:`Result`; ``dataset`` names its test set when the summary
    does not (a ``--gt-file`` run records the file's path).

    A summary written before the rule was recorded (no ``threshold_rule``, no ``thresholds_km``)
    is read by its ``acc_<t>km`` keys under :data:`LEGACY_RULE`, and says so in its note.
    """
    path = Path(path)
    summary = _read_summary(path)
    recorded = str(summary.get("dataset") or "")
    name = _dataset_name(dataset or "") if dataset else _dataset_name(recorded)
    if dataset and name is None:
        raise CompareError(f"--dataset {dataset!r} is not a test set of globe/catalog.py")
    if name is None:
        raise CompareError(f"{path}: its test set is {recorded or 'not recorded'!s}, not a named test set; pass "
                           f"--dataset NAME to say which set its ground truth is")
    rule = str(summary.get("threshold_rule") or "")
    note = ""
    if not rule:
        rule, note = LEGACY_RULE, ("threshold rule not recorded (a summary from before GLOBE recorded it); "
                                   "globe-eval then always counted d <= t")
    return Result(label=label or path.stem, dataset=name, accuracies=_accuracies(summary, path),
                  geoscore=summary.get("geoscore"), threshold_rule=rule, note=note,
                  extra={"n": summary.get("n"), "model": summary.get("model")})


def run_labels(paths: Sequence[str | Path], labels: Sequence[str | None] | None = None) -> list[str]:
    """A distinct label per run: the ones given (CompareError if two are equal), else each file's
    name, widened by its folders while two runs share one (``a/summary``, ``b/summary``)."""
    if labels is not None and any(labels):
        given = [str(label) for label in labels]
        repeated = sorted({label for label in given if given.count(label) > 1})
        if repeated:
            raise CompareError(f"--labels names {', '.join(map(repr, repeated))} more than once; give each run its "
                               "own name")
        return given
    parts = [Path(path).with_suffix("").parts for path in paths]
    depth = 1
    while True:
        out = ["/".join(p[-depth:]) for p in parts]
        files_per_label = {label: {q for q, other in zip(parts, out) if other == label} for label in out}
        if all(len(files) == 1 for files in files_per_label.values()) or depth >= max(map(len, parts)):
            break
        depth += 1
    seen: dict[str, int] = {}
    unique = []
    for label in out:  # the same file given twice: number the repeats
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return unique


def apart_from_published(runs: Sequence[Result], published: Sequence[Result]) -> list[Result]:
    """Runs whose label is a published method's of the same set, renamed ``<label> (run)`` so no
    table line or plot legend reads as the paper's number."""
    taken = {row.label for row in published if row.dataset in {run.dataset for run in runs}}
    return [replace(run, label=f"{run.label} (run)") if run.label in taken else run for run in runs]


def same_test_set(runs: Sequence[Result], paths: Sequence[str | Path]) -> str:
    """The one test set all ``runs`` are on; CompareError names two runs of different sets."""
    first = runs[0]
    for run, path in zip(runs[1:], paths[1:]):
        if run.dataset != first.dataset:
            raise CompareError(
                f"runs of different test sets cannot be compared: {paths[0]} is on {first.dataset!r}, {path} is on "
                f"{run.dataset!r}; compare the runs of one test set at a time")
    return first.dataset


def comparison(runs: Sequence[Result], published: Sequence[Result]) -> tuple[list[Result], list[float]]:
    """Runs first, then the published rows of their test set (best at the widest threshold
    first); and the thresholds to show (the published ones plus any a run adds)."""
    dataset = runs[0].dataset
    peers = sorted((row for row in published if row.dataset == dataset),
                   key=lambda row: -(row.accuracies.get(PUBLISHED_THRESHOLDS_KM[-1]) or 0.0))
    thresholds = sorted({*PUBLISHED_THRESHOLDS_KM, *(t for run in runs for t in run.accuracies)})
    return [*runs, *peers], thresholds


def no_published_rows(dataset: str) -> str:
    """What to say when a test set has no published rows: the runs stand alone."""
    return (f"no published rows for {dataset} in the published table; only your runs are shown "
            "(add a paper's rows with --published FILE, same columns as globe/eval/published.csv)")


def _cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _source(row: Result) -> str:
    if not row.published:
        return f"this run (n={row.extra.get('n')})"
    return f"{row.source}, {row.table}" if row.table else row.source


def format_markdown(rows: Sequence[Result], thresholds: Sequence[float]) -> str:
    """A markdown table: one line per run and published row, with sources and check levels."""
    header = ["method", *(f"{t:g} km" for t in thresholds), "GeoScore", "rule", "source", "checked"]
    lines = [f"test set: {rows[0].dataset}", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [row.label, *(_cell(row.accuracies.get(t)) for t in thresholds), _cell(row.geoscore, 0),
                 _RULES.get(row.threshold_rule, "?"), _source(row), row.checked or "-"]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {row.label}: {row.note}" for row in rows if not row.published and row.note]
    lines += ["", *notes] if notes else []
    if not any(row.published for row in rows):
        lines += ["", no_published_rows(rows[0].dataset)]
    lines += ["", "accuracies in % of all rows within each distance; published rows as their papers report them; "
                  "rule: how a distance d counts within a threshold t (d <= t, d < t; ? = not recorded); "
                  "checked: no = typed from memory, secondary = agrees with a third-party summary, paper = re-read "
                  "in the paper"]
    return "\n".join(lines)


_RULES = {"le": "d <= t", "lt": "d < t"}
_LATEX_SPECIAL = re.compile(r"([&%$#_{}])")


def _latex(text: str) -> str:
    return _LATEX_SPECIAL.sub(r"\\\1", text).replace("~", r"\textasciitilde{}")


def format_latex(rows: Sequence[Result], thresholds: Sequence[float]) -> str:
    """A booktabs ``tabular`` for a paper: the published rows (each line's comment names its source and
    check level, to turn into a citation), a rule, then the runs."""
    columns = "l" + "r" * (len(thresholds) + 1)
    lines = [r"\begin{tabular}{" + columns + "}", r"\toprule",
             " & ".join(["Method", *(f"{t:g} km" for t in thresholds), "GeoScore"]) + r" \\", r"\midrule"]
    ours = [row for row in rows if not row.published]
    theirs = [row for row in rows if row.published]
    for group in (theirs, ours):
        for row in group:
            label = _latex(row.label) if row.published else _latex(row.label) + " (ours)"
            cells = [label, *(_cell(row.accuracies.get(t)) for t in thresholds), _cell(row.geoscore, 0)]
            lines.append(" & ".join(cells) + r" \\" + (f"  % {_latex(_source(row))}; checked: {row.checked}"
                                                     if row.published else ""))
        if group is theirs and theirs and ours:
            lines.append(r"\midrule")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if not theirs:
        lines.append("% " + no_published_rows(_latex(rows[0].dataset)))
    return "\n".join(lines)


def plot_curves(rows: Sequence[Result], path: str | Path, title: str = "") -> Path:
    """Accuracy vs threshold (log km) of every run (solid) and published row (dashed), one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    for row in rows:
        points = sorted((t, a) for t, a in row.accuracies.items() if a is not None)
        if not points:
            continue
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o" if not row.published else ".", linewidth=2.2 if not row.published else 1.0,
                linestyle="-" if not row.published else "--", label=row.label if row.published or row.label.endswith("(run)") else row.label + " (run)")
    ax.set_xscale("log")
    ax.set_xlabel("distance threshold (km)")
    ax.set_ylabel("accuracy (% within threshold)")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"{rows[0].dataset}: accuracy vs threshold")
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="globe-eval compare",
        description="Print runs beside the published results of their test set and plot accuracy vs threshold.")
    parser.add_argument("runs", nargs="+", help="run summaries (the .json globe-eval writes beside its CSV)")
    parser.add_argument("--latex", action="store_true", help="print a LaTeX tabular instead of markdown")
    parser.add_argument("--plot", default=None,
                        help="PNG to write (default: <first run>.compare.png beside it)")
    parser.add_argument("--no-plot", action="store_true", help="write no PNG")
    parser.add_argument("--dataset", default=None,
                        help="the test set of runs whose summary does not name one (--gt-file runs)")
    parser.add_argument("--labels", default=None, help="comma-separated names for the runs (default: file names)")
    parser.add_argument("--published", default=None, help="another published-results CSV (same columns)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
    if labels is not None and len(labels) != len(args.runs):
        print(f"error: --labels gives {len(labels)} names for {len(args.runs)} runs", file=sys.stderr)
        return 2
    try:
        names = run_labels(args.runs, labels)
        runs = [load_run(path, args.dataset, label) for path, label in zip(args.runs, names)]
        same_test_set(runs, args.runs)
        published = load_published(args.published)
        rows, thresholds = comparison(apart_from_published(runs, published), published)
    except (CompareError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_latex(rows, thresholds) if args.latex else format_markdown(rows, thresholds))
    if not args.no_plot:
        first = Path(args.runs[0])
        target = Path(args.plot) if args.plot else first.with_name(first.stem + ".compare.png")
        print(f"wrote {plot_curves(rows, target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
