"""ms-swift glue: GLOBE's rewards as ``ORM`` / ``AsyncORM`` classes registered in ``swift.rewards.orms``.

Load it with ``--external_plugins $(globe-plugin-path)`` (the console script prints this file and the
dataset plugin). It registers exactly the names of :data:`globe.rewards.REWARDS` (what each gives and
reads: README, "Rewards"), each by the class whose ``reward_name`` it is; trainer metrics are named
after the classes (``rewards/GlobeAccuracy/mean``). All logic lives in :mod:`globe.rewards` and
:mod:`globe.locatability`; this is the only module that imports ``swift.rewards``.
"""
from __future__ import annotations

import os
import sys
import weakref
from pathlib import Path
from typing import Any, List

try:
    import globe  # noqa: F401
except ImportError:  # loaded by path from a checkout that is not pip-installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from swift.rewards import ORM, AsyncORM, orms

from globe.locatability import LocatabilityScorer
from globe.rewards import (
    DEFAULT_TAU_KM,
    REWARDS,
    accuracy_rewards,
    distance_rewards,
    format_rewards,
    released_accuracy_rewards,
    released_format_rewards,
    released_visual_match_rewards,
    visual_match_rewards,
)


class GlobeAccuracy(ORM):
    """1.0 / 0.2 / 0.0 for city and country / country only / neither (aliases and scripts count)."""

    reward_name = "globe_accuracy"

    def __call__(self, completions: List[Any], solution=None, country=None, city=None, **kwargs) -> List[float]:
        return accuracy_rewards(completions, solution=solution, country=country, city=city)


class GlobeAccuracyReleased(ORM):
    """The released accuracy reward bit for bit: first answer block, 0.7-ratio substring rule."""

    reward_name = "globe_accuracy_released"

    def __call__(self, completions: List[Any], solution=None, country=None, city=None, **kwargs) -> List[float]:
        return released_accuracy_rewards(completions, solution=solution, country=country, city=city)


class ReleasedFormat(ORM):
    """ms-swift 3.x's ``MathFormat``: ``^<think>.*?</think>\\s*<answer>.*?</answer>`` and nothing after."""

    reward_name = "external_math_format"

    def __call__(self, completions: List[Any], **kwargs) -> List[float]:
        return released_format_rewards(completions)


class GlobeVisualMatch(ORM):
    """Share of the row's ground-truth visual entities that the reasoning names."""

    reward_name = "globe_visual_match"

    def __call__(self, completions: List[Any], entities=None, **kwargs) -> List[float]:
        return visual_match_rewards(completions, entities)


class GlobeVisualMatchReleased(ORM):
    """The released visual-match reward bit for bit: lower-case substrings before ``</think>``."""

    reward_name = "globe_visual_match_released"

    def __call__(self, completions: List[Any], entities=None, **kwargs) -> List[float]:
        return released_visual_match_rewards(completions, entities)


class GlobeFormat(ORM):
    """1.0 for ``<think>...</think><answer>country: ..\\ncity: ..</answer>``, else 0.0."""

    reward_name = "globe_format"

    def __call__(self, completions: List[Any], **kwargs) -> List[float]:
        return format_rewards(completions)


class GlobeDistance(ORM):
    """exp(-d / tau) from the answered place to the row's coordinates; tau from ``GLOBE_DISTANCE_TAU_KM``."""

    reward_name = "globe_distance"

    def __init__(self, args: Any = None, **kwargs: Any):
        super().__init__(args, **kwargs)
        raw = os.environ.get("GLOBE_DISTANCE_TAU_KM", "").strip()
        try:
            self.tau_km = float(raw) if raw else DEFAULT_TAU_KM
        except ValueError:
            raise ValueError(f"GLOBE_DISTANCE_TAU_KM={raw!r} is not a number of kilometres (default {DEFAULT_TAU_KM:g})") from None
        if not 0 < self.tau_km < float("inf"):
            raise ValueError(f"GLOBE_DISTANCE_TAU_KM must be > 0 km, got {raw!r}")

    def __call__(self, completions: List[Any], lat=None, lon=None, **kwargs) -> List[float]:
        return distance_rewards(completions, lat=lat, lon=lon, tau_km=self.tau_km)


class GlobeLocatability(AsyncORM):
    """P(yes) / (P(yes) + P(no)) from the served locatability RM, the whole batch concurrently.

    Built when the trainer starts, so a missing ``GLOBE_RM_URL`` stops the run before any
    rollout. ms-swift awaits ``__call__`` inside ``asyncio.run`` (a new loop per batch), and
    the scorer opens one client per call, so no session outlives its loop.
    """

    reward_name = "globe_locatability"

    def __init__(self, args: Any = None, **kwargs: Any):
        super().__init__(args, **kwargs)
        self.scorer = LocatabilityScorer()
        trainer = _trainer_building_rewards()
        self._trainer = weakref.ref(trainer) if trainer is not None else None

    async def __call__(self, completions: List[Any], images=None, **kwargs) -> List[float]:
        rewards = await self.scorer.score(completions, images)
        _log_metrics(self._trainer() if self._trainer else None, "GlobeLocatability", self.scorer.last_batch.metrics())
        return rewards


def _trainer_building_rewards() -> Any:
    """The ms-swift trainer whose ``_prepare_rewards`` is instantiating this reward, or ``None``.

    ms-swift gives a reward no handle on the trainer's logged metrics, but builds each reward
    class inside that trainer method; the trainer is ``self`` in that calling frame.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_prepare_rewards" and "self" in frame.f_locals:
            return frame.f_locals["self"]
        frame = frame.f_back
    return None


def _log_metrics(trainer: Any, reward_name: str, metrics: dict) -> None:
    """Add ``rewards/<reward>/<name>`` values to the trainer's metrics (averaged and logged with the rewards)."""
    store = getattr(trainer, "_metrics", None)
    if not isinstance(store, dict):
        return
    mode = "train" if getattr(getattr(trainer, "model", None), "training", True) else "eval"
    for name, value in metrics.items():
        store.setdefault(mode, {}).setdefault(f"rewards/{reward_name}/{name}", []).append(float(value))


def register(classes: tuple[type, ...]) -> None:
    """Register each name of :data:`globe.rewards.REWARDS` in ms-swift by its class; refuse a name without one."""
    by_name = {cls.reward_name: cls for cls in classes}
    for name, reward in REWARDS.items():
        target = reward.alias_of or name
        if target not in by_name:
            raise RuntimeError(f"globe.rewards.REWARDS names {name!r} but globe/plugin.py has no class with "
                               f"reward_name = {target!r}: add one (an ORM subclass calling the reward function)")
        orms[name] = by_name[target]
    unlisted = sorted(set(by_name) - set(REWARDS))
    if unlisted:
        raise RuntimeError(f"globe/plugin.py has reward classes for {unlisted} that globe.rewards.REWARDS does not "
                           "list: add them there (name, value, reads) so the README's table shows them")


register((GlobeAccuracy, GlobeAccuracyReleased, ReleasedFormat, GlobeVisualMatch, GlobeVisualMatchReleased, GlobeFormat, GlobeDistance,
          GlobeLocatability))
