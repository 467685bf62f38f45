"""One dataset row -> the ms-swift row a GLOBE task trains or evaluates on.

Pure functions (no ms-swift import) so the row format is unit-tested on its own;
``globe/dataset.py`` only wraps :func:`to_swift_row` in a ``RowPreprocessor``.

Input rows may be the JSONL ``globe-data convert`` writes (the normal path) or a distributed row
read as-is, through the catalog entry's :class:`globe.data.layouts.Layout`, the object
``globe-data`` and ``globe-eval`` read the same file with: its column spellings (``IMG_ID``,
``id``, ``latitude``, a ``response`` column for the reasoning...), how an id names an image file
in the image folder (MP16's ``7e_c3_x.jpg``, OSV-5M's ``<id>.jpg``, IM2GPS's prefixed names),
whether country cells are ISO codes, and, for a headerless file (YFCC100M's ``info.txt``, which
ms-swift loads as one ``text`` column per line), the fields by position. Where the file has no
city/country (the ``*_places365.csv`` sets) or an eval row leaves one empty, both come from
reverse geocoding the coordinates, by ``globe-data``'s rule, so an ms-swift row and a
``globe-eval`` row of the same file carry the same truth. ``<country>X</country><city>Y</city>``
in ``solution`` and string-encoded entities are read as ``globe-data`` reads them.

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
from globe.geo.countries import expand_country_code
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
from .image_paths import ImageOutsideRoot, find_layout_image
from .layouts import ColumnMap, Layout, get_layout, map_columns

IMAGE_TAG = "<image>"

#: The layout rows are read through when the caller names none: the MP16 naming and the shared
#: column spellings, which are also the keys of a converted JSONL.
DEFAULT_LAYOUT = "mp16-reason"


def _column_map(keys: tuple[str, ...], layout: Layout) -> ColumnMap:
    """The layout's column map of a row's keys, made once per key set and layout (rows of one file share both)."""
    cache_key = (keys, layout.name, id(layout))
    columns = _COLUMN_MAPS.get(cache_key)
    if columns is None:
        columns = _COLUMN_MAPS[cache_key] = map_columns(keys, layout)
    return columns


_COLUMN_MAPS: dict[tuple[tuple[str, ...], str, int], ColumnMap] = {}


class LayoutRow:
    """One row with its columns found the layout's way: ``row.get("lat")`` is the value under
    whichever header the layout reads latitude from (``LAT``, ``latitude``, ``lat``...)."""

    def __init__(self, row: Mapping[str, Any], layout: Layout):
        self.row = _positional(row, layout)
        self.layout = layout
        self.names = _column_map(tuple(self.row), layout).names()

    def get(self, column: str) -> Any:
        """The row's value of a logical column (None when absent or blank)."""
        name = self.names.get(column)
        value = self.row.get(name) if name is not None else None
        return None if isinstance(value, str) and not value.strip() else value


def _positional(row: Mapping[str, Any], layout: Layout) -> Mapping[str, Any]:
    """A headerless layout's line (ms-swift loads a ``.txt`` as one ``text`` column) as its named
    fields; a line too short for the positions the layout reads yields no fields (dropped)."""
    if layout.table.has_header or set(row) != {"text"}:
        return row
    fields = str(row["text"]).rstrip("\r\n").split(layout.table.delimiter)
    header = layout.table.header or ()
    columns = _column_map(header, layout)
    if not layout.row_fits(fields, columns):
        return {}
    return dict(zip(header, fields))


def _resolve_layout(layout: Layout | str | None) -> Layout:
    if layout is None:
        return get_layout(DEFAULT_LAYOUT)
    return get_layout(layout) if isinstance(layout, str) else layout


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


def image_refs(row: Mapping[str, Any], base_dir: str | None = None, image_dir: str | None = None,
               layout: Layout | str | None = None) -> list[Any] | None:
    """The row's images as ms-swift accepts them (absolute paths or ``{"bytes", "path"}``), or None.

    Relative paths resolve against ``base_dir`` (the JSONL's folder), then ``image_dir``. A row
    with only an id looks for the file(s) the ``layout`` names for that id under ``image_dir``,
    confined to it (:mod:`globe.data.image_paths`: an id leaving the folder drops the row).
    """
    spec = _resolve_layout(layout)
    images = row.get("images")
    if images is None:
        images = row.get("image")
    if isinstance(images, (str, dict)):
        images = [images]
    if images:
        return _given_images(images, base_dir, image_dir)
    image_id = LayoutRow(row, spec).get("id")
    folder = image_dir or (os.path.join(base_dir, "images") if base_dir else None)
    if image_id is None or folder is None:
        return None
    try:
        found, _ = find_layout_image(folder, str(image_id).strip(), spec.image_names, spec.file_id)
    except ImageOutsideRoot:
        return None
    return [os.path.abspath(os.path.join(folder, found))] if found is not None else None


def _given_images(images: list[Any], base_dir: str | None, image_dir: str | None) -> list[Any] | None:
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


def location(row: Mapping[str, Any] | LayoutRow) -> tuple[str, str]:
    """``(country, city)`` from the columns (an ISO code expanded where the layout says country
    cells are codes), else from a tagged or tab-separated ``solution``."""
    cells = row if isinstance(row, LayoutRow) else LayoutRow(row, _resolve_layout(None))
    country, city = cell_text(cells.get("country")), cell_text(cells.get("city"))
    if country and cells.layout.country_is_code:
        country = expand_country_code(country)
    if not country or not city:
        parsed = parse_solution(cells.get("solution"))
        if parsed:
            country, city = country or parsed[0], city or parsed[1]
    return country, city


def coordinates(row: Mapping[str, Any] | LayoutRow) -> tuple[float | None, float | None]:
    """``(lat, lon)`` when both are present and valid, else ``(None, None)``."""
    cells = row if isinstance(row, LayoutRow) else LayoutRow(row, _resolve_layout(None))
    lat_raw, lon_raw = cells.get("lat"), cells.get("lon")
    if lat_raw is None or lon_raw is None:
        return None, None
    try:
        lat, lon = parse_coordinate(lat_raw, "lat"), parse_coordinate(lon_raw, "lon")
        check_lat_lon(lat, lon)
    except FieldError:
        return None, None
    return lat, lon


def _geocoded(country: str, city: str, lat: float | None, lon: float | None) -> tuple[str, str]:
    """A missing country/city filled from the coordinates by ``globe-data``'s reverse-geocoding
    rule (:func:`globe.data.geocode.place_labels`), as ``globe-eval`` fills the same row."""
    if (country and city) or lat is None or lon is None:
        return country, city
    from .geocode import place_labels  # loads the place index on first use only

    label = place_labels([lat], [lon])[0]
    if label is None:
        return country, city
    return country or label[0], city or label[1]


def to_swift_row(row: Mapping[str, Any], task: str, *, base_dir: str | None = None,
                 image_dir: str | None = None, layout: Layout | str | None = None,
                 think_prefill: str = "") -> dict[str, Any] | None:
    """The ms-swift row for ``task`` (see the module docstring), or None to drop the row.

    ``layout``: the :mod:`globe.data.layouts` layout (or its name) the row's file is read through,
    the catalog's for a registered dataset (:func:`globe.catalog.file_layout`); default MP16's.
    ``think_prefill``: the chat template's prefill the model will infer with (SFT targets start with
    it: :func:`globe.prompts.format_answer`; :func:`globe.families.sft_prefill` reads it).
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}: choose one of {', '.join(TASKS)}")
    spec = _resolve_layout(layout)
    cells = LayoutRow(row, spec)
    images = image_refs(cells.row, base_dir, image_dir, spec)
    if not images:
        return None
    country, city = location(cells)
    lat, lon = coordinates(cells)
    if spec.places == "geocode" or task == "eval":
        country, city = _geocoded(country, city, lat, lon)
    entities, _ = parse_entities(cells.get("entities"))
    image_id = cells.get("id")
    out: dict[str, Any] = {
        "images": images,
        "image_id": str(image_id).strip() if image_id is not None else None,
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
        reasoning = cell_text(cells.get("reasoning"))
        if not country or not reasoning:
            return None
        out["messages"] = [prompt, {"role": "assistant", "content": format_answer(country, city, reasoning, think_prefill)}]
    else:  # rm
        reasoning = cell_text(cells.get("reasoning"))
        label = parse_yes_no(cells.get("locatable"))
        if not reasoning or label is None:
            return None
        out["messages"] = [
            {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT},
            {"role": "user", "content": IMAGE_TAG + reasoning},
            {"role": "assistant", "content": label},
        ]
        out["locatable"] = label
    return out
