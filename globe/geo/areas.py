"""Places beyond cities: first-order regions, islands and landmarks (``Place.level`` ``"region"``, ``"island"``, ``"landmark"``).

Models often answer with a region, an island or a landmark in the city slot ("Tuscany", "Sicily",
"Angkor Wat"): scored at the country's centre such an answer is hundreds of km off, and matched to a
far namesake town thousands ("Yucatan" -> a hamlet in Baja California), so they are places of their
own, from countrystatecity-countries, pycountry's ISO 3166-2 names and the hand-kept ``places.tsv``.
The sources and the index: globe/geo/README.md, "Regions, islands and landmarks: sources".
"""
from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .cache import package_data
from .distance import haversine_km, unit_vectors
from .place import AREA_LEVELS, Place
from .text import ascii_key, index_keys, lookup_keys, name_key

log = logging.getLogger(__name__)

AREA_CONFIDENCE = 0.8
# The package's point is matched to a GeoNames admin-1 division by its REGION_VOTES nearest places of
# the same country; the population centre replaces the point only when they all agree, the nearest
# is within REGION_NEAREST_PLACE_MAX_KM and the centre within REGION_CENTRE_MAX_SHIFT_KM (Ontario:
# 830 km, to the Toronto area); else the match is doubtful (remote islands, split divisions).
REGION_VOTES = 5
REGION_NEAREST_PLACE_MAX_KM = 300.0
REGION_CENTRE_MAX_SHIFT_KM = 1200.0
# Typo matching of area names inside the stated country ("Hokaido", "Kerela"): looser than for
# cities (ratio 80, not 88) because a country has a few hundred areas, not thousands of towns.
FUZZY_MIN_CHARS = 5
FUZZY_CUTOFF = 80.0
FUZZY_CUTOFF_SHORT = 83.0
FUZZY_SHORT_CHARS = 6
# Query words that name the kind of place rather than the place: "Galapagos Islands" -> "galapagos".
_STRIP_PREFIXES = ("the ", "isle of ", "island of ", "county ", "co ")
_STRIP_SUFFIXES = (
    " islands", " island", " isles", " province", " region", " state", " prefecture", " county",
    " autonomous region", " national park", " peninsula",
)
_PLACES_FILE = Path(__file__).with_name("places.tsv")
_RANK_TABLE, _RANK_FIRST_ORDER, _RANK_LOWER = 0, 1, 2


def read_places(path: Path = _PLACES_FILE) -> list[tuple[str, list[str], list[str], float | None, float | None]]:
    """Rows (level, names, country codes, lat, lon) of the hand-kept table; lat/lon None = from the regions data."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t")] + ["", ""]
        level, names, countries, lat, lon = cols[:5]
        if level not in AREA_LEVELS:
            raise ValueError(f"{path}:{number}: unknown kind {level!r}; use one of {', '.join(AREA_LEVELS)}")
        if bool(lat) != bool(lon):
            raise ValueError(f"{path}:{number}: give both lat and lon, or neither (to take the region's point)")
        rows.append((level, [n for n in names.split("|") if n], countries.upper().split("|"),
                     float(lat) if lat else None, float(lon) if lon else None))
    return rows


def _regions_data() -> list[dict[str, Any]]:
    """Every state/province record of countrystatecity-countries (read from its package data)."""
    root = package_data("countrystatecity_countries", "data", "by-country")
    records: list[dict[str, Any]] = []
    for country_dir in sorted(root.iterdir(), key=lambda p: p.name):
        states = country_dir / "states.json"
        if states.is_file():
            records.extend(json.loads(states.read_text(encoding="utf-8")))
    return records


def _iso_subdivision_names() -> dict[str, list[str]]:
    """ISO 3166-2 code -> the subdivision's ISO names (pycountry): mostly the local-language forms
    ("Małopolskie", "Toscana", "Illes Balears", "Islas Baleares") that the regions data lacks."""
    import pycountry

    out: dict[str, list[str]] = {}
    for sub in pycountry.subdivisions:
        head, _, rest = sub.name.partition("[")
        names = [head.split(",")[0].strip(), *(n.strip() for n in rest.rstrip("]").split(";"))]
        out[sub.code] = [n for n in dict.fromkeys(names) if n]
    return out


def _first_order_codes() -> set[str]:
    """ISO 3166-2 codes of first-order subdivisions (no parent in pycountry)."""
    import pycountry

    return {s.code for s in pycountry.subdivisions if not getattr(s, "parent_code", None)}


def _weighted_centre_row(gaz: Any, rows: np.ndarray) -> int:
    """Member row nearest to the population-weighted mean of the rows' unit vectors."""
    xyz = unit_vectors(gaz.lat[rows], gaz.lon[rows])
    weights = gaz.pop[rows].astype(np.float64) + 1.0
    centre = (xyz * weights[:, None]).sum(axis=0)
    return int(rows[int(np.argmax(xyz @ centre))])


def _region_point(gaz: Any, members: dict[tuple[str, str], np.ndarray], cc: str, lat: float, lon: float,
                  first_order: bool) -> tuple[float, float, str | None]:
    """(lat, lon, GeoNames admin1) standing for a region whose package point is (lat, lon)."""
    tree, tree_rows = gaz.tree(0)
    _, pos = tree.query(unit_vectors(np.array([lat]), np.array([lon])), k=32)
    same_cc = [int(tree_rows[p]) for p in np.atleast_1d(pos[0]) if gaz.cc[int(tree_rows[p])] == cc]
    if not same_cc:
        return lat, lon, None
    votes = Counter(gaz.admin1[r] for r in same_cc[:REGION_VOTES])
    admin1 = votes.most_common(1)[0][0] or None
    if not first_order or admin1 is None:
        return lat, lon, admin1
    rows = members.get((cc, admin1))
    if rows is None or len(rows) == 0:
        return lat, lon, admin1
    row = _weighted_centre_row(gaz, rows)
    sure = (len(same_cc) >= REGION_VOTES and votes[admin1] == REGION_VOTES
            and haversine_km(gaz.lat[same_cc[0]], gaz.lon[same_cc[0]], lat, lon) <= REGION_NEAREST_PLACE_MAX_KM)
    if not sure or haversine_km(gaz.lat[row], gaz.lon[row], lat, lon) > REGION_CENTRE_MAX_SHIFT_KM:
        return lat, lon, admin1
    return float(gaz.lat[row]), float(gaz.lon[row]), admin1


def build_area_index(gaz: Any) -> dict[str, Any]:
    """Regions from countrystatecity-countries plus the hand-kept table, placed with the city index
    ``gaz`` (a few seconds; cached). The city index is handed in, so this module never imports it:
    the gazetteer owns both shared indexes (:func:`globe.geo.gazetteer.areas`)."""
    members_lists: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (code, admin1) in enumerate(zip(gaz.cc, gaz.admin1)):
        members_lists[(code, admin1)].append(i)
    members = {k: np.asarray(v) for k, v in members_lists.items()}
    first_order = _first_order_codes()
    iso_names = _iso_subdivision_names()

    names: list[str] = []
    ccs: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    levels: list[str] = []
    admin1s: list[str | None] = []
    first_orders: list[bool] = []
    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
    region_rows: dict[tuple[str, str], int] = {}
    region_names: dict[int, list[str]] = {}

    def add(name: str, cc: str, lat: float, lon: float, level: str, admin1: str | None,
            aliases: list[str], rank: int) -> int:
        row = len(names)
        names.append(name)
        ccs.append(cc)
        lats.append(lat)
        lons.append(lon)
        levels.append(level)
        admin1s.append(admin1)
        first_orders.append(rank == _RANK_FIRST_ORDER)
        for key in dict.fromkeys(k for text in [name, *aliases] for k in index_keys(text)):
            postings[key].append((rank, row))
        return row

    for rec in _regions_data():
        try:
            lat, lon = float(rec["latitude"]), float(rec["longitude"])
        except (TypeError, ValueError, KeyError):
            continue  # a record without a point cannot be scored
        cc = rec["country_code"]
        is_first = rec.get("iso3166_2") in first_order
        plat, plon, admin1 = _region_point(gaz, members, cc, lat, lon, is_first)
        native = rec.get("native") or ""
        aliases = [n for n in dict.fromkeys([native, *iso_names.get(rec.get("iso3166_2") or "", [])]) if n]
        row = add(rec["name"], cc, plat, plon, "region", admin1, aliases,
                  _RANK_FIRST_ORDER if is_first else _RANK_LOWER)
        region_names[row] = [rec["name"], *aliases]
        for text in (rec["name"], *aliases):
            for key in index_keys(text):
                region_rows.setdefault((cc, key), row)  # first-order first: records are in file order

    for level, place_names, countries, lat, lon in read_places():
        for cc in countries:
            if lat is None or lon is None:
                row = next((region_rows[(cc, k)] for n in place_names for k in index_keys(n) if (cc, k) in region_rows), None)
                if row is None:
                    raise ValueError(f"places.tsv: no region named {place_names[0]!r} in {cc} in the regions data; "
                                     "give its lat and lon")
                add(place_names[0], cc, lats[row], lons[row], level, admin1s[row],
                    place_names[1:] + region_names[row], _RANK_TABLE)  # "北海道" finds the island too
            else:
                add(place_names[0], cc, lat, lon, level, None, place_names[1:], _RANK_TABLE)

    keys = {k: tuple(r for _, r in sorted(v)) for k, v in postings.items()}
    tree, tree_rows = gaz.tree(0)
    _, nearest = tree.query(unit_vectors(np.asarray(lats), np.asarray(lons)), k=1)
    fuzzy: dict[str, dict[str, int]] = defaultdict(dict)
    for key, rows in keys.items():
        if key.isascii() and len(key.replace(" ", "")) >= FUZZY_MIN_CHARS:
            for row in rows:
                fuzzy[ccs[row]].setdefault(key, row)
    return {
        "host": [gaz.cc[int(tree_rows[p])] for p in np.atleast_1d(nearest)],
        "fuzzy": {cc: (list(d), list(d.values())) for cc, d in fuzzy.items()},
        "name": names,
        "cc": ccs,
        "lat": np.asarray(lats),
        "lon": np.asarray(lons),
        "level": levels,
        "admin1": admin1s,
        "first_order": first_orders,
        "keys": keys,
    }


def _query_variants(keys: Sequence[str], faithful: bool = False) -> list[str]:
    """Keys to try for a query: its own ``lookup_keys``, then with kind words stripped ("Isle of Skye" -> "skye").

    ``faithful``: the first key only, no ASCII fold ("Champagné" the town must not become "Champagne"
    the region). The tuple tests skip the word-by-word loops for the many names without a kind word.
    """
    out = list(keys[:1] if faithful else keys)
    for key in list(out):
        if key.startswith(_STRIP_PREFIXES):
            for prefix in _STRIP_PREFIXES:
                if key.startswith(prefix) and len(key) > len(prefix) + 2:
                    out.append(key[len(prefix):])
        if key.endswith(_STRIP_SUFFIXES):
            for suffix in _STRIP_SUFFIXES:
                if key.endswith(suffix) and len(key) > len(suffix) + 2:
                    out.append(key[: -len(suffix)])
    return list(dict.fromkeys(out))


class Areas:
    """The loaded area index plus lookups over it (one shared instance: :func:`globe.geo.gazetteer.areas`)."""

    def __init__(self, data: dict[str, Any]):
        self.name = data["name"]
        self.cc = data["cc"]
        self.lat = data["lat"]
        self.lon = data["lon"]
        self.level = data["level"]
        self.admin1 = data["admin1"]
        self.first_order = data["first_order"]  # a first-order division of the regions data
        self.keys = data["keys"]
        self.host = data["host"]
        self.fuzzy_keys = data["fuzzy"]

    def __len__(self) -> int:
        return len(self.name)

    def find(self, text: str, cc: str | None, *, faithful: bool = False,
             keys: Sequence[str] | None = None) -> int | None:
        """Best row named ``text`` (in country ``cc`` when given), or None; ``faithful``: diacritics must match.

        ``keys``: ``lookup_keys(text)`` when the caller has them already.
        """
        for key in _query_variants(lookup_keys(text) if keys is None else keys, faithful):
            for row in self.keys.get(key, ()):
                if cc is None or self.cc[row] == cc:
                    return row
        return None

    def fuzzy(self, text: str, cc: str) -> tuple[int, float] | None:
        """(row, score 0-100) of the area in ``cc`` whose ASCII name is closest to ``text``, if close enough."""
        from rapidfuzz import fuzz, process

        choices, rows = self.fuzzy_keys.get(cc, ([], []))
        query = ascii_key(name_key(text))
        if not choices or len(query.replace(" ", "")) < FUZZY_MIN_CHARS:
            return None
        cutoff = FUZZY_CUTOFF_SHORT if len(query) <= FUZZY_SHORT_CHARS else FUZZY_CUTOFF
        hit = process.extractOne(query, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
        return (rows[hit[2]], float(hit[1])) if hit else None

    def rows_named(self, text: str) -> tuple[int, ...]:
        """Every row carrying exactly this name (any country)."""
        out: list[int] = []
        for key in lookup_keys(text):
            out.extend(self.keys.get(key, ()))
        return tuple(dict.fromkeys(out))

    def place(self, row: int, confidence: float = AREA_CONFIDENCE) -> Place:
        return Place(
            name=self.name[row],
            country_code=self.cc[row],
            lat=float(self.lat[row]),
            lon=float(self.lon[row]),
            level=self.level[row],
            confidence=confidence,
            geonameid=None,
            population=0,
            admin1=self.admin1[row],
        )

