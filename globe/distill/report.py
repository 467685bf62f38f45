"""The run report, computed from the ledger alone, so a resumed run reports what an uninterrupted one would.

Two kinds of numbers, kept apart on purpose:

- **Rows** (``rows_*``, ``dropped_by_reason``, ``funnel``, per-teacher answer statistics and
  agreement): one vote per image, from its *last* ledger line (a failed row that was retried
  counts once, with its final outcome).
- **Cost** (``requests``, ``attempts``, ``tokens``, ``request_failures_by_status``): every request
  ever made, including those of superseded failed attempts, because they were paid for.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .filters import DROP_REASONS, STAGES, FilterSettings, PlaceComparison

TOKEN_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
FAIL_REASONS: dict[str, str] = {
    "teacher_request_failed": "a teacher could not be reached or answered with an error after all retries",
    "verifier_request_failed": "the verifier could not be reached or answered with an error after all retries",
    "internal_error": "a bug in globe-distill while processing the row (the error is in the ledger)",
}


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def add_usage(total: Counter, usage: Mapping[str, Any] | None) -> None:
    """Add a ChatResult.usage dict's token counts (ignoring anything that is not a number)."""
    for key in TOKEN_KEYS:
        value = (usage or {}).get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total[key] += int(value)


class _TeacherStats:
    def __init__(self, name: str):
        self.name = name
        self.requests = 0
        self.attempts = 0
        self.tokens: Counter = Counter()
        self.request_failures: Counter = Counter()
        self.answered = 0
        self.sources: Counter = Counter()
        self.failures: Counter = Counter()
        self.problems: Counter = Counter()
        self.truncated = 0
        self.locatable: Counter = Counter()
        self.confidence_sum = 0.0
        self.confidence_n = 0
        self.filter_failures: Counter = Counter()
        self.passed = 0
        self.gt: Counter = Counter()
        self.gt_km: list[float] = []

    def as_dict(self, settings: FilterSettings) -> dict[str, Any]:
        gt_n = self.gt["compared"]
        km_sorted = sorted(self.gt_km)
        median = km_sorted[len(km_sorted) // 2] if km_sorted else None
        return {
            "name": self.name,
            "requests": self.requests,
            "attempts": self.attempts,
            "request_failures_by_status": dict(self.request_failures),
            "tokens": dict(self.tokens),
            "answered": self.answered,
            "parsed_from": dict(self.sources),
            "unusable_answers": dict(self.failures),
            "answer_problems": dict(sorted(self.problems.items())),
            "truncated_answers": self.truncated,
            "locatable": dict(self.locatable),
            "mean_confidence": round(self.confidence_sum / self.confidence_n, 4) if self.confidence_n else None,
            "filter_failures": dict(self.filter_failures),
            "passed_answer_filters": self.passed,
            "gt_agreement": {
                "compared": gt_n,
                "agree": self.gt["agree"],
                "agree_rate": _rate(self.gt["agree"], gt_n),
                "mode": settings.gt_match,
                "km": settings.gt_km,
                "country_match_rate": _rate(self.gt["country"], gt_n),
                "city_match_rate": _rate(self.gt["city"], gt_n),
                "within_km_rate": _rate(self.gt["within"], gt_n),
                "median_km": None if median is None else round(median, 1),
            },
        }


class ReportBuilder:
    """Feed ledger entries in file order with :meth:`add`; :meth:`build` returns the report dict."""

    def __init__(self, teacher_names: Sequence[str], settings: FilterSettings, verifier_name: str | None = None):
        self.settings = settings
        self.teachers = [_TeacherStats(name) for name in teacher_names]
        self.verifier_name = verifier_name
        self.verifier: Counter = Counter()
        self.verifier_tokens: Counter = Counter()
        self.verifier_failures: Counter = Counter()
        self.outcomes: Counter = Counter()
        self.dropped_by_reason: Counter = Counter()
        self.dropped_by_stage: Counter = Counter()
        self.failed_by_reason: Counter = Counter()
        self.pairs: dict[tuple[int, int], Counter] = {}
        self.rm_labels: Counter = Counter()
        self._pending_failed: dict[str, Mapping[str, Any]] = {}

    # -- feeding ----------------------------------------------------------------------------------

    def add(self, entry: Mapping[str, Any]) -> None:
        self._add_cost(entry)
        image_id = entry["image_id"]
        self._pending_failed.pop(image_id, None)  # a later line supersedes an earlier failure
        if entry["outcome"] == "failed":
            self._pending_failed[image_id] = entry
        else:
            self._add_final(entry)

    def add_all(self, entries: Iterable[Mapping[str, Any]]) -> "ReportBuilder":
        for entry in entries:
            self.add(entry)
        return self

    def _add_cost(self, entry: Mapping[str, Any]) -> None:
        for stats, record in zip(self.teachers, entry.get("teachers") or []):
            if not record:
                continue
            stats.requests += 1
            stats.attempts += int(record.get("attempts") or 0)
            add_usage(stats.tokens, record.get("usage"))
            if record.get("status") != "ok":
                stats.request_failures[record.get("status") or "unknown"] += 1
        grounding = entry.get("grounding") or {}
        for status, usage in zip(grounding.get("statuses") or [], grounding.get("usages") or []):
            self.verifier["requests"] += 1
            add_usage(self.verifier_tokens, usage)
            if status != "ok":
                self.verifier_failures[status] += 1

    def _add_final(self, entry: Mapping[str, Any]) -> None:
        outcome = entry["outcome"]
        self.outcomes[outcome] += 1
        if outcome == "dropped":
            self.dropped_by_reason[entry.get("reason") or "unknown"] += 1
            self.dropped_by_stage[entry.get("stage") or "unknown"] += 1
        elif outcome == "failed":
            self.failed_by_reason[entry.get("reason") or "unknown"] += 1
            return
        for label in (entry.get("rm_labels") or {}).values():
            self.rm_labels[label] += 1
        for stats, record in zip(self.teachers, entry.get("teachers") or []):
            if record and record.get("answer") is not None:
                self._add_answer(stats, record)
        for pair in entry.get("agreement") or []:
            counter = self.pairs.setdefault((pair["a"], pair["b"]), Counter())
            counter["compared"] += 1
            counter["agree"] += bool(pair["agree"])
            counter["country"] += bool(pair["country_match"])
        grounding = entry.get("grounding") or {}
        for verdict in grounding.get("verdicts") or []:
            self.verifier["entities"] += 1
            self.verifier[{True: "seen", False: "not_seen", None: "unclear"}[verdict]] += 1

    def _add_answer(self, stats: _TeacherStats, record: Mapping[str, Any]) -> None:
        answer, checks = record["answer"], record.get("checks") or {}
        stats.answered += 1
        stats.sources[answer.get("source", "none")] += 1
        if answer.get("failure"):
            stats.failures[answer["failure"]] += 1
        stats.problems.update(answer.get("problems") or [])
        if record.get("finish_reason") == "length":
            stats.truncated += 1
        locatable = answer.get("locatable")
        stats.locatable[{True: "yes", False: "no", None: "missing"}[locatable]] += 1
        if answer.get("confidence") is not None:
            stats.confidence_sum += float(answer["confidence"])
            stats.confidence_n += 1
        for key in ("locatability_failure", "gt_failure"):
            if checks.get(key) and not answer.get("failure"):  # unusable answers are counted above
                stats.filter_failures[checks[key]] += 1
        if checks.get("passed"):
            stats.passed += 1
        gt = checks.get("gt")
        if gt is not None:
            comparison = PlaceComparison(gt["country_match"], gt["city_match"], gt.get("km"))
            stats.gt["compared"] += 1
            stats.gt["agree"] += comparison.matches(self.settings.gt_match, self.settings.gt_km)
            stats.gt["country"] += comparison.country_match
            stats.gt["city"] += comparison.city_match
            stats.gt["within"] += comparison.matches("km", self.settings.gt_km)
            if comparison.distance_km is not None:
                stats.gt_km.append(comparison.distance_km)

    # -- the report -------------------------------------------------------------------------------

    def build(self, rows_in: int | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The report; ``rows_in`` is the number of images selected for the run (None: unknown)."""
        for entry in self._pending_failed.values():
            self._add_final(entry)
        self._pending_failed.clear()
        processed = sum(self.outcomes.values())
        kept, dropped, failed = (self.outcomes[k] for k in ("kept", "dropped", "failed"))
        funnel: dict[str, int] = {"processed_without_failure": kept + dropped}
        alive = kept + dropped - self.dropped_by_stage.get("input", 0)
        for stage in STAGES:
            alive -= self.dropped_by_stage.get(stage, 0)
            funnel[f"after_{stage}"] = alive
        tokens_total: Counter = Counter()
        for stats in self.teachers:
            tokens_total.update(stats.tokens)
        tokens_total.update(self.verifier_tokens)
        names = [t.name for t in self.teachers]
        report: dict[str, Any] = {
            "rows_in": rows_in,
            "rows_processed": processed,
            "rows_pending": None if rows_in is None else max(0, rows_in - processed),
            "rows_kept": kept,
            "rows_dropped": dropped,
            "rows_failed": failed,
            "keep_rate": _rate(kept, kept + dropped),
            "dropped_by_reason": dict(self.dropped_by_reason.most_common()),
            "dropped_by_stage": {s: self.dropped_by_stage[s] for s in ("input", *STAGES) if self.dropped_by_stage[s]},
            "failed_by_reason": dict(self.failed_by_reason.most_common()),
            "funnel": funnel,
            "teachers": [stats.as_dict(self.settings) for stats in self.teachers],
            "teacher_agreement": [
                {
                    "teachers": [names[a], names[b]],
                    "compared": counter["compared"],
                    "agree": counter["agree"],
                    "agree_rate": _rate(counter["agree"], counter["compared"]),
                    "country_match_rate": _rate(counter["country"], counter["compared"]),
                    "mode": self.settings.agreement_match,
                    "km": self.settings.agreement_km,
                }
                for (a, b), counter in sorted(self.pairs.items())
            ],
            "verifier": None if self.verifier_name is None else {
                "name": self.verifier_name,
                "requests": self.verifier["requests"],
                "entities_checked": self.verifier["entities"],
                "seen": self.verifier["seen"],
                "not_seen": self.verifier["not_seen"],
                "unclear": self.verifier["unclear"],
                "request_failures_by_status": dict(self.verifier_failures),
                "tokens": dict(self.verifier_tokens),
            },
            "tokens": dict(tokens_total),
            "reward_model_candidates": {"yes": self.rm_labels["yes"], "no": self.rm_labels["no"]},
            "reasons": {k: v for k, v in {**DROP_REASONS, **FAIL_REASONS}.items()
                        if k in self.dropped_by_reason or k in self.failed_by_reason},
        }
        if extra:
            report.update(extra)
        return report
