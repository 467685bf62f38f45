"""Data preparation: released CSV layouts -> validated JSONL rows the registered datasets read.

Nothing here imports ms-swift; ``globe/dataset.py`` is the ms-swift glue. Entry points:
:func:`convert` / :func:`validate` (streaming, resumable, reporting drops by reason),
:func:`globe.data.swift_rows.to_swift_row` (a row -> the ms-swift row of a task) and the
``globe-data`` CLI (:mod:`globe.data.cli`). Evaluation and distillation read ground truth through
the same pieces: :mod:`~globe.data.csvfile` (the CSV reader), :mod:`~globe.data.layouts` (column
aliases), :mod:`~globe.data.image_paths` (id -> image file, confined to the image root) and
:mod:`~globe.data.geocode` (the reverse-geocoding rule).
"""
from .convert import ConvertOptions, convert, read_jsonl, validate
from .layouts import LAYOUTS, LayoutError, detect_layout
from .report import ConversionReport

__all__ = ["ConvertOptions", "ConversionReport", "LAYOUTS", "LayoutError", "convert", "detect_layout", "read_jsonl",
           "validate"]
