"""Oracles: the paper's released rules, rewritten here from their statement (issue 22), not from our code.

Each function states one released rule as plainly as possible (string scans rather than the
regular expressions either implementation uses), so a test can feed it and GLOBE's released
variant the same generated inputs and demand equal results. Sources, all in the released
repository (lingli1996/GLOBE): ``examples/train/grpo/globe/plugin.py`` (rewards, locatability
verdict) and ``examples/train/grpo/globe/eval.py`` (string accuracy, extraction, row rule).
"""
from __future__ import annotations

import math
import random
from typing import Iterable, Mapping, Sequence

RATIO = 0.7
YES = ("yes", "Yes", "YES")
NO = ("no", "No", "NO")


# --------------------------------------------------------------------------- field extraction


def first_block(text: str) -> str | None:
    """Inside of the first ``<answer>`` ... the first ``</answer>`` after it (case-sensitive), else None."""
    start = text.find("<answer>")
    if start == -1:
        return None
    end = text.find("</answer>", start + len("<answer>"))
    return None if end == -1 else text[start + len("<answer>"):end]


def first_field(region: str, key: str) -> str:
    """The released ``key:\\s*([^\\n]+)`` first match, stripped and lower-cased; ``""`` when none.

    After the first ``key:`` the whitespace run is skipped whole (newlines too); the value runs
    from there to the next line feed. A run reaching the end of the text leaves only whitespace,
    which strips to ``""``, and no later ``key:`` can follow it, so the first occurrence decides.
    """
    at = region.find(key + ":")
    if at == -1:
        return ""
    position = at + len(key) + 1
    while position < len(region) and region[position].isspace():
        position += 1
    line_end = region.find("\n", position)
    value = region[position:] if line_end == -1 else region[position:line_end]
    return value.strip().lower()


def reward_fields(text: str) -> tuple[str, str]:
    """The released accuracy reward's reading: first answer block stripped, nothing without one."""
    block = first_block(text)
    region = block.strip() if block is not None else ""
    return first_field(region, "country"), first_field(region, "city")


def eval_fields(text: str, use_cot: bool) -> tuple[str, str]:
    """The released eval's reading: CoT -> first answer block (stripped) else the whole text;
    direct -> the whole text, answer block or not."""
    if not text:
        return "", ""
    region = text
    if use_cot:
        block = first_block(text)
        if block is not None:
            region = block.strip()
    return first_field(region, "country"), first_field(region, "city")


def names_match(pred: str, truth: str) -> bool:
    """One lower-cased name inside the other, and the inner one at least 70% as long (lengths as given)."""
    if len(pred) == 0:
        return False
    low_pred, low_truth = pred.lower(), truth.lower()
    if low_pred in low_truth and len(pred) / len(truth) >= RATIO:
        return True
    return low_truth in low_pred and len(truth) / len(pred) >= RATIO


# --------------------------------------------------------------------------- rewards


def accuracy(text: str, solution: str) -> float:
    """``globe_accuracy_released`` for a solution cell ``"country\\tcity"`` (one tab)."""
    gt_country, gt_city = solution.split("\t")
    country, city = reward_fields(text)
    if not names_match(country, gt_country):
        return 0.0
    return 1.0 if names_match(city, gt_city) else 0.2


def think_format(text: str) -> float:
    """``external_math_format``: ``<think>`` A ``</think>`` whitespace ``<answer>`` B ``</answer>``, the
    whole text, for some split (A and B anything)."""
    if not (text.startswith("<think>") and text.endswith("</answer>")):
        return 0.0
    last_open = len(text) - len("</answer>") - len("<answer>")  # where an empty B would put <answer>
    close = text.find("</think>", len("<think>"))
    while close != -1:
        position = close + len("</think>")
        while position < len(text) and text[position].isspace():
            position += 1
        if text.startswith("<answer>", position) and position <= last_open:
            return 1.0
        close = text.find("</think>", close + 1)
    return 0.0


def visual_match(text: str, entity_texts: Sequence[str]) -> float:
    """``GeoVisalEntityMatching2ORM``: distinct lower-cased entities found as substrings of the
    lower-cased text before the first ``</think>`` with every ``<think>`` removed."""
    cut = text.find("</think>")
    head = text if cut == -1 else text[:cut]
    searched = "".join(head.split("<think>")).lower()
    distinct = list(dict.fromkeys(entity.lower() for entity in entity_texts))
    if not distinct:
        return 0.0
    return len([entity for entity in distinct if searched.find(entity) != -1]) / len(distinct)


def verdict(entries: Iterable[tuple[str, float]]) -> float:
    """The released RM reading: exact yes/no tokens of the first token's top logprobs, every entry
    added (repeats too), ``P(yes) / (P(yes) + P(no) + 1e-19)``; nothing found gives 0.0."""
    yes = sum(math.exp(logprob) for token, logprob in entries if token in YES)
    no = sum(math.exp(logprob) for token, logprob in entries if token in NO)
    return yes / (yes + no + 1e-19)


# --------------------------------------------------------------------------- evaluation


def kept_by_released_eval(row: Mapping[str, str]) -> bool:
    """Whether the released eval's loop kept a ground-truth row: an id (``IMG_ID`` else ``id``) and both
    coordinates (``LAT``/``latitude``, ``LON``/``longitude``) non-empty and readable by ``float``."""
    if not (row.get("IMG_ID") or row.get("id")):
        return False
    lat = row.get("LAT") or row.get("latitude")
    lon = row.get("LON") or row.get("longitude")
    if not lat or not lon:
        return False
    try:
        float(lat), float(lon)
    except ValueError:
        return False
    return True


def string_accuracies(rows: Sequence[Mapping[str, str]], answers: Sequence[str], use_cot: bool) -> tuple[float, float]:
    """``(country, city)`` accuracy as the released eval printed them: rows its loop kept, each
    compared with its own ``country``/``city`` cells as written (a missing column: ``""``); a failed
    request's answer is ``""``; denominator: the rows kept."""
    kept = [(row, answer) for row, answer in zip(rows, answers, strict=True) if kept_by_released_eval(row)]
    if not kept:
        raise ZeroDivisionError("the released eval stopped: no valid rows")
    countries = cities = 0
    for row, answer in kept:
        country, city = eval_fields(answer, use_cot)
        countries += names_match(country, row.get("country", ""))
        cities += names_match(city, row.get("city", ""))
    return countries / len(kept), cities / len(kept)


# --------------------------------------------------------------------------- generated inputs

NAMES = ["France", "Paris", "Niger", "Nigeria", "USA", "United States", "New York", "new york city", "FI",
         "Finland", "Helsinki", "Zürich", "ZÜRICH", "İstanbul", "Straße", "STRASSE", "東京", "São Paulo", "", " ",
         "Paris ", "a", "country", "city"]
ENTITIES = ["bus", "Bus", "BUS", "business", "palm tree", "palm trees", "Zürich", "İ", "ß", "SS", "東京タワー",
            "", " ", "think", "<think>", "answer", "red roof", "Eiffel Tower", "e", "ÉGLISE", "église", "\n"]
FILLERS = ["", " ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u2028", "\r\n", "The ", "buses and palm trees ",
           "a red roof, ", "Eiffel tower ", "I see a BUS ", "Zurich ", "zürich ", "東京タワー ", "ethnicity: x\n",
           "**", "Answer: ", "think", "answer"]
TAGS = ["<think>", "</think>", "<answer>", "</answer>", "<THINK>", "</Think>", "<Answer>", "</ANSWER>",
        "<answer >", "<think></think>"]


def _field(rng: random.Random) -> str:
    key = rng.choice(["country", "city", "Country", "CITY", "country ", "city"])
    gap = rng.choice(["", " ", "  ", "\n", " \n ", "\t", "\u00a0"])
    end = rng.choice(["\n", "", " \n", "\r\n", "."])
    return f"{key}:{gap}{rng.choice(NAMES)}{end}"


def completion(rng: random.Random) -> str:
    """A completion assembled from tags (present, missing, doubled, out of order, any case),
    field lines, entity-like words and odd whitespace."""
    shape = rng.random()
    if shape < 0.35:  # close to the format, with a random slip
        parts = [rng.choice(["", "", "Sure. "]), "<think>", rng.choice(FILLERS), rng.choice(FILLERS),
                 rng.choice(["</think>", "</think>", ""]), rng.choice(["", "\n", " "]), "<answer>",
                 _field(rng), _field(rng), rng.choice(["</answer>", "</answer>", "", "</answer>\n"])]
        if rng.random() < 0.2:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(TAGS))
        return "".join(parts)
    pieces = [rng.choice([rng.choice(TAGS), _field(rng), rng.choice(FILLERS), rng.choice(ENTITIES)])
              for _ in range(rng.randrange(0, 12))]
    return "".join(pieces)


def _variant(rng: random.Random, name: str) -> str:
    return rng.choice([name, name.upper(), name.lower(), f" {name} ", name[:-1], name + "s", f"**{name}**"])


def answered(rng: random.Random) -> tuple[str, str]:
    """``(completion, solution)``: an answer naming the truth, or a variant of it, in a near-format completion."""
    country, city = rng.choice(NAMES), rng.choice(NAMES)
    slip = rng.choice(["", "", "", "</answer>", "\n", "<answer>country: Peru\ncity: Lima</answer>"])
    text = (f"{rng.choice(['', 'Hmm. '])}<think>{rng.choice(FILLERS)}</think>{rng.choice(['', chr(10)])}<answer>"
            f"country:{rng.choice([' ', '', chr(10)])}{_variant(rng, country)}\ncity: {_variant(rng, city)}"
            f"</answer>{slip}")
    return text, f"{country}\t{city}"


def entity_list(rng: random.Random) -> list[str]:
    return [rng.choice(ENTITIES) for _ in range(rng.choice([0, 0, 1, 2, 3, 5]))]


def solution(rng: random.Random) -> str:
    return f"{rng.choice(NAMES)}\t{rng.choice(NAMES)}"


def top_logprobs(rng: random.Random) -> list[tuple[str, float]]:
    tokens = ["yes", "Yes", "YES", "no", "No", "NO", " yes", "Ġyes", "▁no", "\nno", "yes.", "maybe", "y", "nO"]
    return [(rng.choice(tokens), -rng.expovariate(0.7)) for _ in range(rng.randrange(0, 7))]


def ground_truth_row(rng: random.Random) -> dict[str, str]:
    """A ground-truth row in one of the released layouts (MP16/IM2GPS3K ``IMG_ID, LAT, LON``, OSV-5M
    ``id, latitude, longitude``), with missing, empty, odd or out-of-range cells and names as written."""
    coordinate = ["48.85", " 2.35 ", "", "abc", "200", "nan", "-0", "1e1", "1_000", "inf"]
    row: dict[str, str] = {}
    ids, lats, lons = (("IMG_ID", "LAT", "LON") if rng.random() < 0.5 else ("id", "latitude", "longitude"))
    if rng.random() < 0.9:
        row[ids] = rng.choice(["a.jpg", "123", "", "b"])
    row[lats] = rng.choice(coordinate)
    row[lons] = rng.choice(coordinate)
    if rng.random() < 0.7:
        row["country"] = rng.choice(NAMES + ["FI", "PL", "US", " France"])
    if rng.random() < 0.6:
        row["city"] = rng.choice(NAMES)
    return row
