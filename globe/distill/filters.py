"""The distillation filters: small pure functions, each a switch with a threshold.

A row (one image) goes through a funnel of stages (:data:`STAGES`); the first stage it cannot pass
names its drop reason (:data:`DROP_REASONS`), and every reason is counted in the report. With several
teachers a row goes on while at least ``required`` answers survive a stage; the drop reason is that
of the first teacher (in ``--teacher`` order) eliminated, and the kept reasoning is the first
surviving teacher's, so list your best teacher first. Places are compared by the one rule,
:func:`globe.scoring.same_place`, or by distance (:data:`MATCH_MODES`). The stages, their flags and
the matching modes: docs/rebuild_data.md, "Filters and thresholds".
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from globe.answers import verdict_from_text
from globe.catalog import GroundTruthRow
from globe.scoring import same_place, score_names

from .teacher import TeacherAnswer

MATCH_MODES = ("city-or-km", "city", "km", "country")
STAGES = ("answer", "locatability", "gt_agreement", "teacher_agreement", "grounding")

DROP_REASONS: dict[str, str] = {
    "empty_answer": "the teacher returned no text",
    "unparseable": "no JSON object and no country:/city: lines in the teacher's answer",
    "no_country": "the teacher's answer names no country",
    "no_reasoning": "the teacher's answer has no reasoning",
    "judged_unlocatable": "the teacher judged the image not locatable",
    "low_confidence": "the teacher's confidence is below --min-confidence",
    "no_locatability": "the teacher gave no locatable/confidence judgement",
    "gt_mismatch": "the teacher's place does not match the ground truth (--gt-match)",
    "teachers_disagree": "fewer than --min-agreeing teachers name the same place",
    "too_few_grounded_entities": "the verifier saw fewer than --min-entities of the reasoning's entities",
    "image_unreadable": "the image file could not be read when the row was sent",
    "image_outside_root": "the JSONL's image path is outside --image-root (refused, never sent)",
}
# Failures that say the reasoning itself is wrong or unsure (a missing judgement says nothing).
_CONTENT_FAILURES = frozenset({"judged_unlocatable", "low_confidence", "gt_mismatch"})


@dataclass(frozen=True)
class FilterSettings:
    """Every filter switch and threshold; ``min_agreeing=None`` means every teacher."""

    locatability: bool = True
    min_confidence: float = 0.7
    gt_agreement: bool = True
    gt_match: str = "city-or-km"
    gt_km: float = 25.0
    teacher_agreement: bool = True
    agreement_match: str = "city-or-km"
    agreement_km: float = 25.0
    min_agreeing: int | None = None
    grounding: bool = False
    min_entities: int = 2

    def check(self, n_teachers: int) -> None:
        """Raise ValueError naming the bad setting and the fix."""
        for name, mode in (("gt_match", self.gt_match), ("agreement_match", self.agreement_match)):
            if mode not in MATCH_MODES:
                raise ValueError(f"{name}={mode!r}: choose one of {', '.join(MATCH_MODES)}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence={self.min_confidence}: must be in [0, 1]")
        for name in ("gt_km", "agreement_km"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)}: must be > 0 km")
        if self.min_entities < 0:
            raise ValueError(f"min_entities={self.min_entities}: must be >= 0")
        if self.min_agreeing is not None and not 1 <= self.min_agreeing <= n_teachers:
            raise ValueError(
                f"min_agreeing={self.min_agreeing}: must be between 1 and the number of teachers ({n_teachers})"
            )

    def required_answers(self, n_teachers: int) -> int:
        """How many answers must survive every per-answer stage for the row to go on."""
        if self.teacher_agreement and n_teachers > 1:
            return self.min_agreeing or n_teachers
        return 1


# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class PlaceComparison:
    """A predicted place against a reference: identity matches and the distance (None if unknown)."""

    country_match: bool
    city_match: bool
    distance_km: float | None

    def matches(self, mode: str, max_km: float) -> bool:
        """Whether this comparison counts as the same place under ``mode`` (see module docstring)."""
        within = self.distance_km is not None and self.distance_km <= max_km
        if mode == "city":
            return self.city_match
        if mode == "km":
            return within
        if mode == "city-or-km":
            return self.city_match or within
        if mode == "country":
            return self.country_match
        raise ValueError(f"unknown match mode {mode!r}: choose one of {', '.join(MATCH_MODES)}")

    def to_dict(self) -> dict[str, Any]:
        km = None if self.distance_km is None else round(self.distance_km, 3)
        return {"country_match": self.country_match, "city_match": self.city_match, "km": km}


def city_point(country: str | None, city: str | None) -> tuple[float, float] | None:
    """Coordinates of a named city when it resolves at city level, else None."""
    scored = score_names(country, city)
    return (scored.place.lat, scored.place.lon) if scored.is_city else None


def compare_places(
    pred_country: str | None,
    pred_city: str | None,
    ref_country: str | None,
    ref_city: str | None,
    ref_point: tuple[float, float] | None = None,
) -> PlaceComparison:
    """Compare a prediction with a reference place; ``ref_point`` defaults to the reference city's point."""
    country_match, city_match = same_place(pred_country, pred_city, ref_country, ref_city)
    if ref_point is None:
        ref_point = city_point(ref_country, ref_city)
    scored = score_names(pred_country, pred_city, *(ref_point or (None, None)))
    km = scored.distance_km if scored.is_city else None
    return PlaceComparison(country_match, city_match, km)


# --------------------------------------------------------------------------- per-answer checks


def locatability_failure(answer: TeacherAnswer, min_confidence: float) -> str | None:
    """Why the answer fails the locatability filter, or None: yes with confidence >= the threshold."""
    if answer.locatable is None or answer.confidence is None:
        return "no_locatability"
    if not answer.locatable:
        return "judged_unlocatable"
    if answer.confidence < min_confidence:
        return "low_confidence"
    return None


def gt_comparison(answer: TeacherAnswer, gt: GroundTruthRow) -> PlaceComparison | None:
    """The answer's place against the ground truth (None when the answer names no country)."""
    if answer.country is None:
        return None
    ref_point = (gt.lat, gt.lon) if gt.lat is not None and gt.lon is not None else None
    return compare_places(answer.country, answer.city, gt.country, gt.city, ref_point)


@dataclass
class AnswerVerdict:
    """Each per-answer check of one teacher's answer; ``None`` reasons mean "passed"."""

    answer_failure: str | None
    locatability_failure: str | None
    gt: PlaceComparison | None
    gt_failure: str | None

    def failure_at(self, stage: str) -> str | None:
        return {"answer": self.answer_failure, "locatability": self.locatability_failure,
                "gt_agreement": self.gt_failure}[stage]

    @property
    def passed(self) -> bool:
        return self.answer_failure is None and self.locatability_failure is None and self.gt_failure is None


def judge_answer(answer: TeacherAnswer, gt: GroundTruthRow, settings: FilterSettings) -> AnswerVerdict:
    """Run every per-answer check (even after one fails, so the report's per-teacher rates are complete).

    A disabled filter never fails; the ground-truth comparison is still computed for the report.
    """
    locatability = locatability_failure(answer, settings.min_confidence) if settings.locatability else None
    comparison = gt_comparison(answer, gt)
    gt_failure = None
    if settings.gt_agreement and (comparison is None or not comparison.matches(settings.gt_match, settings.gt_km)):
        gt_failure = "gt_mismatch"
    return AnswerVerdict(answer.failure, locatability, comparison, gt_failure)


# --------------------------------------------------------------------------- across teachers


def answers_agree(a: TeacherAnswer, b: TeacherAnswer, mode: str, max_km: float) -> bool:
    """Whether two teachers name the same place (symmetric for the identity modes)."""
    if a.country is None or b.country is None:
        return False
    return compare_places(a.country, a.city, b.country, b.city).matches(mode, max_km)


def largest_agreeing_group(
    indices: Sequence[int], agree: Callable[[int, int], bool]
) -> list[int]:
    """The largest set of answers that all agree with one anchor answer (ties: the earliest anchor).

    Returned in teacher order, anchor included. ``agree(i, j)`` compares answers i and j.
    """
    best: list[int] = []
    for anchor in indices:
        group = [i for i in indices if i == anchor or agree(anchor, i)]
        if len(group) > len(best):
            best = group
    return best


@dataclass(frozen=True)
class FunnelResult:
    """Where a row stands before grounding: passed (with the chosen answer) or dropped (stage, reason)."""

    passed: bool
    stage: str | None = None
    reason: str | None = None
    group: tuple[int, ...] = ()

    @property
    def chosen(self) -> int | None:
        return self.group[0] if self.passed and self.group else None


def funnel(
    verdicts: Sequence[AnswerVerdict],
    settings: FilterSettings,
    agree: Callable[[int, int], bool],
) -> FunnelResult:
    """Run the per-answer stages and teacher agreement (see the module docstring)."""
    required = settings.required_answers(len(verdicts))
    alive = list(range(len(verdicts)))
    for stage in ("answer", "locatability", "gt_agreement"):
        failing = [(i, verdicts[i].failure_at(stage)) for i in alive if verdicts[i].failure_at(stage)]
        dead = {i for i, _ in failing}
        alive = [i for i in alive if i not in dead]
        if len(alive) < required:
            return FunnelResult(False, stage, failing[0][1])
    group = alive
    if settings.teacher_agreement and len(verdicts) > 1:
        group = largest_agreeing_group(alive, agree)
        if len(group) < required:
            return FunnelResult(False, "teacher_agreement", "teachers_disagree")
    return FunnelResult(True, group=tuple(group))


# --------------------------------------------------------------------------- grounding


def verifier_says(text: str | None) -> bool | None:
    """The verifier's yes/no (:func:`globe.answers.verdict_from_text`, its first word); None when it said neither."""
    verdict = verdict_from_text(text)
    return None if verdict is None else verdict == 1.0


def grounded_entities(
    entities: Sequence[str], verdicts: Sequence[bool | None], min_entities: int
) -> tuple[list[str], str | None]:
    """(entities the verifier saw, drop reason or None): an unclear verdict counts as not seen."""
    if len(entities) != len(verdicts):
        raise ValueError(f"{len(entities)} entities but {len(verdicts)} verifier verdicts")
    kept = [entity for entity, seen in zip(entities, verdicts) if seen is True]
    return kept, ("too_few_grounded_entities" if len(kept) < min_entities else None)


# --------------------------------------------------------------------------- reward-model labels


def reward_model_labels(
    verdicts: Sequence[AnswerVerdict],
    answers: Sequence[TeacherAnswer],
    result: FunnelResult,
    grounding_failed: bool,
) -> dict[int, str]:
    """Which answers become reward-model samples, as ``{teacher index: "yes"|"no"}``.

    "yes": the reasoning of a kept row's chosen answer (locatable, right place, agreed, grounded).
    "no": reasoning that failed on content (only filters that are switched on count): judged
    unlocatable or below the confidence threshold, the wrong place, or (for the chosen answer)
    entities the verifier could not see. Answers without usable reasoning or without a
    locatability judgement, and correct answers that were not chosen, give no sample: their
    label is unknown or redundant.
    """
    labels: dict[int, str] = {}
    for i, (verdict, answer) in enumerate(zip(verdicts, answers)):
        if verdict.answer_failure is not None or not answer.reasoning:
            continue
        if verdict.locatability_failure in _CONTENT_FAILURES or verdict.gt_failure in _CONTENT_FAILURES:
            labels[i] = "no"
    if result.passed and result.chosen is not None:
        labels[result.chosen] = "no" if grounding_failed else "yes"
    return labels
