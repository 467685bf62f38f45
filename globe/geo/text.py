"""Text keys for place names: one normalisation shared by index build and lookup.

Two keys exist because a model writes names either as the gazetteer stores them (any script,
with diacritics) or as plain ASCII ("Munchen", "Sao Paulo", "Turkiye"):

- ``name_key``: Unicode NFKC, casefolded, punctuation to spaces, apostrophes and zero-width
  joiners dropped, spaces collapsed. "St. Petersburg" -> "st petersburg", "Xi'an" -> "xian",
  "東京" -> "東京".
- ``ascii_key``: ``name_key`` folded to ASCII with anyascii (ISC licence; Unidecode is GPL).
  Only used for Latin-script names, where folding drops diacritics without changing the word;
  transliterating CJK or Arabic would invent keys that collide with unrelated places.
"""
from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

# Longest text treated as a place name: real names are far shorter, and capping keeps a 10 kB
# garbage answer from costing more than a few microseconds.
MAX_NAME_CHARS = 120

_APOSTROPHE_CHARS = "'\u2019\u2018\u02bc\u02bb`\u00b4"
# Zero-width (non-)joiners and marks: spelling aids in Sinhala, Persian, Indic scripts that a model
# may or may not write ("ශ්‍රී ලංකාව" with or without U+200D is one name).
_ZERO_WIDTH_CHARS = "\u200b-\u200f\u2060\ufeff"
_APOSTROPHES = re.compile(f"[{_APOSTROPHE_CHARS}]")
# What name_key deletes, in one pass: it runs on every lookup.
_DROPPED = re.compile(f"[{_APOSTROPHE_CHARS}{_ZERO_WIDTH_CHARS}]")
_PUNCT = re.compile(r"[\s\.\,\;\:\-\u2010-\u2015\u2212_/\\\(\)\[\]\{\}\"\u201c\u201d\u00ab\u00bb!?\*\#\|~+=<>]+")

# Latin script incl. Latin-1, Extended-A/B, IPA extensions and Latin Extended Additional.
_LATIN_RANGES = ((0x0000, 0x024F), (0x1E00, 0x1EFF), (0x0300, 0x036F))
_NOT_LATIN = re.compile("[^" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _LATIN_RANGES) + "]")


def clean_text(text: object) -> str | None:
    """Return stripped text, or None for None/empty/non-string/over-long input (never raises)."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > MAX_NAME_CHARS:
        return None
    return text


def name_key(text: str) -> str:
    """Unicode key: NFKC, casefold, punctuation collapsed to single spaces.

    ASCII text is its own NFKC form and casefolds as ``lower``, so it skips both (most names are ASCII).
    """
    text = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
    text = _DROPPED.sub("", text)
    text = _PUNCT.sub(" ", text)
    return text.strip()


def is_latin(text: str) -> bool:
    """True when every character is Latin script (so ASCII folding only strips diacritics)."""
    return text.isascii() or _NOT_LATIN.search(text) is None


def ascii_key(key: str) -> str:
    """ASCII fold of an already-normalised ``name_key``: "münchen" -> "munchen"."""
    if key.isascii():
        return key
    folded = anyascii(key).lower()
    folded = _APOSTROPHES.sub("", folded)
    return _PUNCT.sub(" ", folded).strip()


def lookup_keys(text: str) -> list[str]:
    """Keys to try for a query, most faithful first (duplicates removed)."""
    key = name_key(text)
    if not key:
        return []
    keys = [key]
    folded = ascii_key(key)
    if folded and folded != key:
        keys.append(folded)
    return keys


def index_keys(text: str) -> list[str]:
    """Keys to index a stored name under: its ``name_key`` and, for Latin script only, the ASCII fold."""
    key = name_key(text)
    if not key:
        return []
    folded = ascii_key(key) if is_latin(key) else key
    return [key, folded] if folded and folded != key else [key]
