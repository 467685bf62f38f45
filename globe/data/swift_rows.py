"""One dataset row -> the ms-swift row a GLOBE task trains or evaluates on.

Pure functions (no ms-swift import) so the row format is unit-tested on its own;
``globe/dataset.py`` only wraps :func:`to_swift_row` in a ``RowPreprocessor``.

Input rows may be the JSONL ``globe-data convert`` writes (the normal path) or a released row
read as-is: ``IMG_ID`` + an image folder instead of ``images``, a ``response`` column for the
reasoning, ``<country>X</country><city>Y</city>`` in ``solution``, string-encoded entities.

Tasks and what each yields (every task keeps ``image_id, solution, country, city, lat, lon,
entities`` beside ``messages``/``images``; GRPO hands them to reward functions as kwargs):

- ``grpo``: user = image + ``geo_prompt(True)``; no assistant turn (the policy writes it).
- ``sft``:  user as above, assistant = ``format_answer(country, city, reasoning, think_prefill)``
  (starting with the family's think prefill); rows without reasoning are dropped (the CoT prompt
  asks for a ``<think>`` part).
- ``rm``:   system = ``LOCATABILITY_SYSTEM_PROMPT``, user = image + reasoning,
  assistant = ``"yes"``/``"no"``; rows without reasoning or label are dropped.
- ``eval``: like ``grpo``: the prompt and the ground truth, for evaluation and inference.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from globe.catalog import TASKS
from globe.prompts import LOCATABILITY_SYSTEM_PROMPT, format_answer, geo_prompt

from .fields import (
    FieldError,
    cell_text,
    check_lat_lon,
    parse_coordinate,
    parse_entities,
    parse_solution,
    parse_yes_no,
)
from .image_paths import ImageOutsideRoot, confined_names, find_image_file

IMAGE_TAG = "<image>"

_ID_KEYS = ("image_id", "IMG_ID", "img_id", "id")
_LAT_KEYS = ("lat", "LAT", "latitude")
_LON_KEYS = ("lon", "LON", "longitude", "lng")
_REASONING_KEYS = ("reasoning", "response", "think", "rationale")
_LOCATABLE_KEYS = ("locatable", "locatability", "is_locatable")


def _first(row: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = row.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return None


def _existing_path(path: str, base_dir: str | None, image_dir: str | None) -> str | None:
    """An existing absolute path for ``path`` (tried as given, then under each folder), or None."""
    if os.path.isabs(path):
        return path if os.path.exists(path) else None
    for folder in (base_dir, image_dir):
        if folder:
            candidate = os.path.join(folder, path)
            if os.path.exists(candidate):
                return os.path.abspath(candidate)
    return os.path.abspath(path) if os.path.exists(path) else None


def image_refs(row: Mapping[str, Any], base_dir: str | None = None, image_dir: str | None = None) -> list[Any] | None:
    """The row's images as ms-swift accepts them (absolute paths or ``{"bytes", "path"}``), or None.

    Relative paths resolve against ``base_dir`` (the JSONL's folder), then ``image_dir``. A row
    with only an id looks for the MP16 file names of that id under ``image_dir``, confined to it
    (:mod:`globe.data.image_paths`: an id leaving the folder drops the row).
    """
    images = row.get("images")
    if images is None:
        images = row.get("image")
    if isinstance(images, (str, dict)):
        images = [images]
    if images:
        refs: list[Any] = []
        for image in images:
            if isinstance(image, dict):
                if image.get("bytes"):
                    refs.append(image)
                    continue
                image = image.get("path")
            if not isinstance(image, str) or not image.strip():
                return None
            resolved = _existing_path(image.strip(), base_dir, image_dir)
            if resolved is None:
                return None
            refs.append(resolved)
        return refs
    image_id = _first(row, _ID_KEYS)
    folder = image_dir or (os.path.join(base_dir, "images") if base_dir else None)
    if image_id is None or folder is None:
        return None
    try:
        found = find_image_file(folder, confined_names(str(image_id)))
    except ImageOutsideRoot:
        return None
    return [os.path.abspath(os.path.join(folder, found))] if found is not None else None


def location(row: Mapping[str, Any]) -> tuple[str, str]:
    """``(country, city)`` from the columns, else from a tagged or tab-separated ``solution``."""
    country, city = cell_text(row.get("country")), cell_text(row.get("city"))
    if not country or not city:
        parsed = parse_solution(row.get("solution"))
        if parsed:
            country, city = country or parsed[0], city or parsed[1]
    return country, city


def coordinates(row: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """``(lat, lon)`` when both are present and valid, else ``(None, None)``."""
    lat_raw, lon_raw = _first(row, _LAT_KEYS), _first(row, _LON_KEYS)
    if lat_raw is None or lon_raw is None:
        return None, None
    try:
        lat, lon = parse_coordinate(lat_raw, "lat"), parse_coordinate(lon_raw, "lon")
        check_lat_lon(lat, lon)
    except FieldError:
        return None, None
    return lat, lon


def to_swift_row(row: Mapping[str, Any], task: str, *, base_dir: str | None = None,
                 image_dir: str | None = None, think_prefill: str = "") -> dict[str, Any] | None:
    """The ms-swift row for ``task`` (see the module docstring), or None to drop the row.

    ``think_prefill``: the chat template's prefill the model will infer with (SFT targets start with
    it: :func:`globe.prompts.format_answer`; :func:`globe.families.sft_prefill` reads it).
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}: choose one of {', '.join(TASKS)}")
    images = image_refs(row, base_dir, image_dir)
    if not images:
        return None
    country, city = location(row)
    lat, lon = coordinates(row)
    entities, _ = parse_entities(row.get("entities"))
    image_id = _first(row, _ID_KEYS)
    out: dict[str, Any] = {
        "images": images,
        "image_id": str(image_id) if image_id is not None else None,
        "solution": f"{country}\t{city}",
        "country": country,
        "city": city,
        "lat": lat,
        "lon": lon,
        "entities": entities,
    }
    prompt = {"role": "user", "content": IMAGE_TAG + geo_prompt(True)}
    if task in ("grpo", "eval"):
        if not country:
            return None
        out["messages"] = [prompt]
    elif task == "sft":
        reasoning = cell_text(_first(row, _REASONING_KEYS))
        if not country or not reasoning:
            return None
        out["messages"] = [prompt, {"role": "assistant", "content": format_answer(country, city, reasoning, think_prefill)}]
    else:  # rm
        reasoning = cell_text(_first(row, _REASONING_KEYS))
        label = parse_yes_no(_first(row, _LOCATABLE_KEYS))
        if not reasoning or label is None:
            return None
        out["messages"] = [
            {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT},
            {"role": "user", "content": IMAGE_TAG + reasoning},
            {"role": "assistant", "content": label},
        ]
        out["locatable"] = label
    return out
