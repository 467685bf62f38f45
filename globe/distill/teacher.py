"""Reading what a teacher VLM actually returns for :data:`globe.prompts.TEACHER_PROMPT`.

Teachers are asked for one JSON object (``locatable``, ``confidence``, ``reasoning``,
``entities``, ``country``, ``city``) optionally followed by ``country:``/``city:`` lines. What
comes back drifts in every direction, so the rules are fixed here once:

* **Where the JSON is.** Fenced blocks (```` ```json ... ``` ````) are searched first, then the
  whole text. Each ``{`` is tried in order, so an object followed by trailing prose, or preceded
  by a preamble, is still found; a nested object (``"location": {...}``) is only used when the
  outer one cannot be read at all.
* **What is repaired.** Strict JSON first (raw newlines inside strings allowed). Failing that,
  the object is read as a *literal* with :func:`ast.literal_eval`, which evaluates no code: this
  accepts single quotes, trailing commas, ``true``/``false``/``null`` and bare keys. Nothing
  else is guessed.
* **Missing fields** are recorded in ``problems``; the answer stays usable as long as it has a
  country and some reasoning. Without JSON (or with a JSON lacking a place) the ``country:`` /
  ``city:`` lines are read with :func:`globe.answers.parse_answer`, the parser every other part
  of GLOBE uses.
* **Values.** ``locatable`` accepts booleans, yes/no words and 0/1; ``confidence`` accepts
  numbers in [0, 1], percentages (``85``, ``"85%"``) become fractions; entities accept every
  form :func:`globe.data.fields.parse_entities` reads; places lose markdown and placeholders
  (``unknown``, ``[city name]``) via :func:`globe.answers.clean_value`.

:func:`parse_teacher_answer` never raises; :attr:`TeacherAnswer.failure` says why an answer
cannot be used (``"empty_answer"``, ``"unparseable"``, ``"no_country"``, ``"no_reasoning"``).
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from globe.answers import clean_value, parse_answer, without_field_lines
from globe.data.fields import parse_entities, parse_yes_no

#: Reasons an answer cannot be used at all, in the order they are checked.
ANSWER_FAILURES: dict[str, str] = {
    "empty_answer": "the teacher returned no text",
    "unparseable": "neither a JSON object nor country:/city: lines were found",
    "no_country": "no country in the JSON or in country: lines",
    "no_reasoning": "no reasoning text",
}

_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\r?\n?(.*?)```", re.DOTALL)
_ANSWER_TAGS = re.compile(r"</?(?:think|answer)>|<answer>.*?</answer>", re.IGNORECASE | re.DOTALL)
_MAX_OBJECT_STARTS = 32  # '{' positions tried per text: bounds the work on garbage
_LITERAL_WORDS = {"true": "True", "false": "False", "null": "None", "none": "None"}

_KEYS: dict[str, tuple[str, ...]] = {
    "locatable": ("locatable", "is_locatable", "locatability", "visually_locatable"),
    "confidence": ("confidence", "confidence_score", "locatability_score", "score", "certainty", "probability"),
    "reasoning": ("reasoning", "reason", "rationale", "thinking", "think", "analysis", "explanation",
                  "chain_of_thought", "cot"),
    "entities": ("entities", "visual_entities", "entity", "clues", "visual_clues", "evidence"),
    "country": ("country", "country_name"),
    "city": ("city", "city_name"),
}
_NESTED_PLACE_KEYS = ("location", "answer", "place", "prediction")


@dataclass(frozen=True)
class TeacherAnswer:
    """One teacher's answer, as far as it could be read.

    ``source`` says where the fields came from: ``"json"``, ``"lines"`` (``country:``/``city:``
    lines only) or ``"none"``. ``problems`` lists what was missing or repaired (for the report),
    e.g. ``"missing_confidence"``, ``"repaired_json"``, ``"confidence_percent"``.
    """

    locatable: bool | None = None
    confidence: float | None = None
    reasoning: str = ""
    entities: tuple[str, ...] = ()
    country: str | None = None
    city: str | None = None
    source: str = "none"
    problems: tuple[str, ...] = field(default_factory=tuple)
    failure: str | None = None

    @property
    def usable(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "locatable": self.locatable, "confidence": self.confidence, "reasoning": self.reasoning,
            "entities": list(self.entities), "country": self.country, "city": self.city,
            "source": self.source, "problems": list(self.problems), "failure": self.failure,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TeacherAnswer":
        return cls(
            locatable=data.get("locatable"), confidence=data.get("confidence"), reasoning=data.get("reasoning") or "",
            entities=tuple(data.get("entities") or ()), country=data.get("country"), city=data.get("city"),
            source=data.get("source", "none"), problems=tuple(data.get("problems") or ()), failure=data.get("failure"),
        )


# --------------------------------------------------------------------------- finding the object


def _normalise_object(text: str, start: int) -> str | None:
    """The balanced ``{...}`` starting at ``start``, rewritten as a Python literal, or None.

    Quotes of either kind delimit strings; inside them raw newlines/tabs are escaped. Outside
    them ``true``/``false``/``null`` become Python words and bare keys (``confidence: 0.9``) are
    quoted. The result is only ever given to :func:`ast.literal_eval`.
    """
    out: list[str] = []
    depth = 0
    quote: str | None = None
    escaped = False
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            if ch == "\n":
                ch = "\\n"
            elif ch == "\t":
                ch = "\\t"
            elif ch == "\r":
                ch = "\\r"
            out.append(ch)
            i += 1
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append(ch)
                return "".join(out)
        elif (ch.isalpha() or ch == "_") and not (i > start and (text[i - 1].isdigit() or text[i - 1] == ".")):
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            k = j
            while k < n and text[k] in " \t":
                k += 1
            if k < n and text[k] == ":":
                out.append(json.dumps(word))
            elif word.lower() in _LITERAL_WORDS:
                out.append(_LITERAL_WORDS[word.lower()])
            else:
                return None  # a bare word that is neither a key nor a literal: not an object
            i = j
            continue
        out.append(ch)
        i += 1
    return None


def _read_object(text: str, start: int) -> tuple[dict[str, Any] | None, bool]:
    """(object, repaired) for the ``{`` at ``start``: strict JSON first, then a safe literal."""
    try:
        value, _ = json.JSONDecoder(strict=False).raw_decode(text, start)
        if isinstance(value, dict):
            return value, False
    except ValueError:
        pass
    literal = _normalise_object(text, start)
    if literal is None:
        return None, False
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None, False
    return (value, True) if isinstance(value, dict) else (None, False)


def _has_known_key(obj: Mapping[str, Any]) -> bool:
    keys = {_key(k) for k in obj}
    return any(alias in keys for aliases in _KEYS.values() for alias in aliases) or any(
        k in keys for k in _NESTED_PLACE_KEYS
    )


def _key(key: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(key).strip().lower())


def find_json_object(text: str) -> tuple[dict[str, Any] | None, bool]:
    """The teacher's JSON object in ``text`` and whether it needed repair; ``(None, False)`` if none."""
    regions = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for region in regions:
        starts = [m.start() for m in re.finditer(r"\{", region)][:_MAX_OBJECT_STARTS]
        for start in starts:
            obj, repaired = _read_object(region, start)
            if obj is not None and _has_known_key(obj):
                return obj, repaired
    return None, False


# --------------------------------------------------------------------------- fields


def _field(obj: Mapping[str, Any], name: str) -> Any:
    by_key = {_key(k): v for k, v in obj.items()}
    for alias in _KEYS[name]:
        if alias in by_key and by_key[alias] is not None:
            return by_key[alias]
    if name in ("country", "city"):
        for nested in _NESTED_PLACE_KEYS:
            inner = by_key.get(nested)
            if isinstance(inner, Mapping):
                value = _field(inner, name)
                if value is not None:
                    return value
    return None


def read_locatable(value: Any) -> bool | None:
    """True/False from a boolean, yes/no word or 0/1; None when it is none of those."""
    label = parse_yes_no(value)
    return None if label is None else label == "yes"


def read_confidence(value: Any) -> tuple[float | None, str | None]:
    """(confidence in [0, 1], problem) from a number or numeric string; percentages are scaled."""
    if isinstance(value, bool) or value is None:
        return None, "missing_confidence" if value is None else "confidence_unreadable"
    problem = None
    if isinstance(value, str):
        text = value.strip()
        percent = text.endswith("%")
        try:
            number = float(text.rstrip("%").strip())
        except ValueError:
            return None, "confidence_unreadable"
        if percent:
            return (number / 100.0, "confidence_percent") if 0.0 <= number <= 100.0 else (None, "confidence_out_of_range")
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        return None, "confidence_unreadable"
    if number != number:  # NaN
        return None, "confidence_unreadable"
    if 1.0 < number <= 100.0:
        number, problem = number / 100.0, "confidence_percent"
    if not 0.0 <= number <= 1.0:
        return None, "confidence_out_of_range"
    return number, problem


def _read_reasoning(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (list, tuple)):
        return "\n".join(str(step).strip() for step in value if isinstance(step, (str, int, float)) and str(step).strip())
    return ""


def _read_place(value: Any) -> str | None:
    return clean_value(value) if isinstance(value, str) else None


def _reasoning_without_answer(text: str) -> str:
    """Free-text reasoning: the ``<think>`` part if tagged, else the text minus the answer lines."""
    parsed = parse_answer(text)
    if parsed.has_think:
        return parsed.think
    stripped = _ANSWER_TAGS.sub("", without_field_lines(text))
    return re.sub(r"\n{3,}", "\n\n", stripped).strip()


# --------------------------------------------------------------------------- entry point


def parse_teacher_answer(text: str | None) -> TeacherAnswer:
    """Read one teacher reply by the rules in the module docstring (never raises)."""
    if not isinstance(text, str) or not text.strip():
        return TeacherAnswer(failure="empty_answer", problems=("empty_answer",))
    problems: list[str] = []
    obj, repaired = find_json_object(text)
    lines = parse_answer(_FENCE.sub("", text)) if obj is not None else parse_answer(text)

    if obj is None:
        country, city = lines.country, lines.city
        if country is None and city is None:
            return TeacherAnswer(source="none", problems=("no_json", "no_answer_lines"), failure="unparseable")
        problems.append("no_json")
        reasoning = _reasoning_without_answer(text)
        answer = TeacherAnswer(
            reasoning=reasoning, country=country, city=city, source="lines",
            problems=tuple(problems + ["missing_locatable", "missing_confidence", "missing_entities"]),
        )
        return _with_failure(answer)

    if repaired:
        problems.append("repaired_json")
    locatable_raw = _field(obj, "locatable")
    locatable = read_locatable(locatable_raw)
    if locatable is None:
        problems.append("missing_locatable" if locatable_raw is None else "locatable_unreadable")
    confidence, confidence_problem = read_confidence(_field(obj, "confidence"))
    if confidence_problem:
        problems.append(confidence_problem)
    reasoning = _read_reasoning(_field(obj, "reasoning"))
    entities_raw = _field(obj, "entities")
    entities, entities_ok = parse_entities(entities_raw)
    if entities_raw is None or not entities:
        problems.append("missing_entities")
    elif not entities_ok:
        problems.append("entities_partly_unreadable")
    country, city = _read_place(_field(obj, "country")), _read_place(_field(obj, "city"))
    source = "json"
    if country is None and lines.country is not None:
        country, source = lines.country, "json+lines"
        problems.append("country_from_lines")
    if city is None and lines.city is not None:
        city, source = lines.city, "json+lines"
        problems.append("city_from_lines")
    if lines.country is not None and country is not None and lines.country.casefold() != country.casefold():
        problems.append("json_lines_disagree")  # the JSON wins: it is the structured answer asked for
    if city is None:
        problems.append("missing_city")
    answer = TeacherAnswer(
        locatable=locatable, confidence=confidence, reasoning=reasoning,
        entities=tuple(e["text"] for e in entities), country=country, city=city,
        source=source, problems=tuple(problems),
    )
    return _with_failure(answer)


def _with_failure(answer: TeacherAnswer) -> TeacherAnswer:
    failure = None
    if answer.country is None:
        failure = "no_country"
    elif not answer.reasoning:
        failure = "no_reasoning"
    return answer if failure is None else replace(answer, failure=failure)
