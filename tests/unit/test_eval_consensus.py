"""The consensus rule over sampled answers (globe.eval.consensus), on hand-computed cases."""
from __future__ import annotations

import pytest

from globe.eval.consensus import (
    CONSENSUS_RADIUS_KM, RankedPlace, SamplePlace, agreement, cluster_samples, rank_places,
)
from globe.eval.metrics import top_k_within
from globe.geo import Place, distance_km

PARIS = SamplePlace(48.8566, 2.3522, "France", "Paris", "city")
VERSAILLES = SamplePlace(48.8049, 2.1204, "France", "Versailles", "city")  # 17.9 km from Paris
LONDON = SamplePlace(51.5074, -0.1278, "United Kingdom", "London", "city")
ROME = SamplePlace(41.9028, 12.4964, "Italy", "Rome", "city")


def test_versailles_is_within_the_radius_of_paris():
    assert 15 < distance_km(PARIS, VERSAILLES) < CONSENSUS_RADIUS_KM


def test_nearby_samples_vote_for_the_first_members_place():
    ranked = rank_places([VERSAILLES, LONDON, PARIS, PARIS])
    assert [(p.city, p.votes, p.samples) for p in ranked] == [("Versailles", 3, (0, 2, 3)), ("London", 1, (1,))]
    top = ranked[0]
    assert (top.lat, top.lon, top.country, top.level) == (VERSAILLES.lat, VERSAILLES.lon, "France", "city")


def test_unparseable_samples_get_no_vote_but_count_in_the_share():
    ranked = rank_places([None, PARIS, None, PARIS, None])
    assert ranked == [RankedPlace(PARIS.lat, PARIS.lon, 2, 0.4, (1, 3), "France", "Paris", "city")]
    assert agreement(ranked) == 0.4


def test_no_placed_sample_gives_no_place_and_zero_agreement():
    assert rank_places([None, None]) == []
    assert agreement([]) == 0.0


def test_a_tie_goes_to_the_place_named_first():
    assert [p.city for p in rank_places([LONDON, PARIS])] == ["London", "Paris"]
    assert [p.city for p in rank_places([ROME, LONDON, PARIS, PARIS, LONDON])] == ["London", "Paris", "Rome"]
    assert [p.share for p in rank_places([ROME, LONDON, PARIS, PARIS, LONDON])] == [0.4, 0.4, 0.2]


def test_clusters_compare_with_the_first_member_only_so_they_do_not_chain():
    # On the equator 0.18 degrees of longitude is 20.0 km: A-B and B-C are within 25 km, A-C is not.
    a, b, c = ({"lat": 0.0, "lon": lon} for lon in (0.0, 0.18, 0.36))
    assert 19 < distance_km((0, 0), (0, 0.18)) < 21
    assert cluster_samples([a, b, c]) == [[0, 1], [2]]
    assert cluster_samples([b, a, c]) == [[0, 1, 2]]  # B first: both A and C are 20 km from it


def test_radius_is_a_parameter():
    assert len(rank_places([PARIS, VERSAILLES], radius_km=10.0)) == 2
    assert len(rank_places([PARIS, VERSAILLES], radius_km=25.0)) == 1


def test_geo_places_and_mappings_are_accepted():
    place = Place("Paris", "FR", PARIS.lat, PARIS.lon, "city", 1.0)
    ranked = rank_places([place, {"lat": PARIS.lat, "lon": PARIS.lon, "city": "Paris"}])
    assert (ranked[0].votes, ranked[0].level, ranked[0].city) == (2, "city", None)


def test_a_place_without_coordinates_is_an_error_naming_the_sample():
    with pytest.raises(ValueError, match="sample 1"):
        rank_places([PARIS, {"city": "Paris"}])


def test_top_k_counts_any_of_the_first_k_places():
    ranked = rank_places([LONDON, LONDON, PARIS, ROME])  # London 2, Paris 1, Rome 1
    truth = (ROME.lat, ROME.lon)
    assert [top_k_within(ranked, truth, k, 25) for k in (1, 2, 3)] == [False, False, True]
    assert top_k_within(ranked, (PARIS.lat, PARIS.lon), 2, 1) is True


def test_top_k_never_counts_a_country_level_place_at_city_scale():
    france = SamplePlace(46.6, 2.4, "France", None, "country")
    ranked = rank_places([france])
    assert top_k_within(ranked, (46.6, 2.4), 1, 25) is False
    assert top_k_within(ranked, (46.6, 2.4), 1, 200) is True


def test_sample_place_from_a_geo_place_keeps_the_answers_names():
    place = Place("Paris", "FR", PARIS.lat, PARIS.lon, "city", 1.0)
    assert SamplePlace.from_place(place, "France", "Paris") == PARIS
