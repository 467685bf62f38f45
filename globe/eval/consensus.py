"""Consensus over several sampled answers for one image: places, votes, ranking, agreement.

A model asked N times about one photo gives N answers; those that name (nearly) the same place
are one vote-getter. The rule, shared by ``globe-eval --samples N`` and the web app:

* **Input.** One entry per sample, in sample order: a resolved place (anything with ``lat`` and
  ``lon``, as attributes or mapping keys, e.g. :class:`globe.geo.Place` or :class:`SamplePlace`)
  or ``None`` for a sample whose answer parsed or resolved to nothing.
* **Clusters (greedy, in sample order).** Each placed sample joins the *first-created* cluster
  whose *first member* lies within ``radius_km`` (geodesic, ``<=``) of it; otherwise it starts a
  new cluster. Comparing against the first member only (not every member, not a moving centre)
  keeps the result independent of later samples and free of chaining (A-B-C 20 km apart each
  stays two places, not one 40 km wide).
* **Votes.** A cluster's votes are its members; a ``None`` sample gets no vote.
* **Share.** ``votes / N`` where N counts *every* sample, unparseable ones included, so five
  samples of which two name Paris and three say nothing give Paris a share of 0.4, not 1.0.
  The top place's share is the image's **agreement** (0 when no sample placed).
* **Ranking.** By votes, descending; ties go to the cluster whose first sample came earlier.
* **Representative.** A ranked place reports its first member's coordinates and labels
  (country, city, level), so it is always a place some sample actually named.

Pure functions: no network, no files. Distances are the geodesic (:func:`globe.geo.distance_km`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from globe.geo.distance import distance_km

#: Samples whose places lie within this many km of a cluster's first member vote together.
CONSENSUS_RADIUS_KM = 25.0
@dataclass(frozen=True)
class SamplePlace:
    """One sample's resolved place with the labels the ranking reports back."""

    lat: float
    lon: float
    country: str | None = None
    city: str | None = None
    level: str | None = None

    @classmethod
    def from_place(cls, place: Any, country: str | None = None, city: str | None = None) -> "SamplePlace":
        """A :class:`globe.geo.Place` with the answer's own names as labels (a Place has no ``city`` field)."""
        return cls(float(place.lat), float(place.lon), country, city, getattr(place, "level", None))


@dataclass(frozen=True)
class RankedPlace:
    """One place the samples voted for.

    ``samples``: indices (0-based, in sample order) of the samples that voted for it; the first
    is the representative whose ``lat``/``lon``/labels are reported. ``share`` = ``votes / N``.
    """

    lat: float
    lon: float
    votes: int
    share: float
    samples: tuple[int, ...]
    country: str | None = None
    city: str | None = None
    level: str | None = None

    @property
    def latlon(self) -> tuple[float, float]:
        return (self.lat, self.lon)


def _field(place: Any, name: str) -> Any:
    if isinstance(place, Mapping):
        return place.get(name)
    return getattr(place, name, None)


def _coordinates(place: Any, index: int) -> tuple[float, float]:
    lat, lon = _field(place, "lat"), _field(place, "lon")
    try:
        return float(lat), float(lon)
    except (TypeError, ValueError):
        raise ValueError(f"sample {index}: place {place!r} has no numeric lat/lon; pass None for a "
                         f"sample that resolved to nothing") from None


def cluster_samples(places: Sequence[Any | None], radius_km: float = CONSENSUS_RADIUS_KM) -> list[list[int]]:
    """Sample indices grouped into clusters, in creation order (see the module docstring).

    >>> cluster_samples([{"lat": 48.85, "lon": 2.35}, None, {"lat": 48.86, "lon": 2.34},
    ...                  {"lat": 51.5, "lon": -0.12}])
    [[0, 2], [3]]
    """
    firsts: list[tuple[float, float]] = []
    clusters: list[list[int]] = []
    for index, place in enumerate(places):
        if place is None:
            continue
        point = _coordinates(place, index)
        for first, members in zip(firsts, clusters):
            if distance_km(first, point) <= radius_km:
                members.append(index)
                break
        else:
            firsts.append(point)
            clusters.append([index])
    return clusters


def rank_places(places: Sequence[Any | None], radius_km: float = CONSENSUS_RADIUS_KM) -> list[RankedPlace]:
    """The places the samples named, most votes first (see the module docstring for the rule).

    >>> paris, london = {"lat": 48.85, "lon": 2.35, "city": "Paris"}, {"lat": 51.5, "lon": -0.12, "city": "London"}
    >>> [(p.city, p.votes, p.share, p.samples) for p in rank_places([london, paris, None, paris])]
    [('Paris', 2, 0.5, (1, 3)), ('London', 1, 0.25, (0,))]
    """
    n = len(places)
    clusters = cluster_samples(places, radius_km)
    # Stable sort: equal votes keep creation order, i.e. the earlier first sample wins the tie.
    clusters.sort(key=lambda members: -len(members))
    ranked = []
    for members in clusters:
        first = places[members[0]]
        lat, lon = _coordinates(first, members[0])
        ranked.append(RankedPlace(
            lat=lat, lon=lon, votes=len(members), share=len(members) / n, samples=tuple(members),
            country=_field(first, "country"), city=_field(first, "city"), level=_field(first, "level"),
        ))
    return ranked


def agreement(ranked: Sequence[RankedPlace]) -> float:
    """The top place's vote share (0.0 when no sample could be placed)."""
    return ranked[0].share if ranked else 0.0


def samples_from_cell(cell: Any) -> list[SamplePlace | None] | None:
    """The sample places of an output row's ``samples`` cell (JSON list, ``globe.eval.runner``).

    A sample counts as placed when its ``status`` is ``"ok"`` and it has coordinates; others are
    ``None`` (no vote). An empty cell (a failed request, a single-answer run) gives ``None``.
    """
    if cell is None or cell == "":
        return None
    entries = json.loads(cell) if isinstance(cell, str) else cell
    if not isinstance(entries, list):
        raise ValueError(f"a samples cell must be a JSON list, got {str(cell)[:80]!r}")
    places: list[SamplePlace | None] = []
    for entry in entries:
        placed = isinstance(entry, Mapping) and entry.get("status") == "ok" and entry.get("lat") is not None \
            and entry.get("lon") is not None
        places.append(SamplePlace(float(entry["lat"]), float(entry["lon"]), entry.get("country"), entry.get("city"),
                                  entry.get("level")) if placed else None)
    return places
