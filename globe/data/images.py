"""Finding a row's image on disk and telling whether it can be decoded.

The released MP16-Reason train zip holds fewer images than its CSV lists, and a corrupt JPEG
only fails deep inside a training step, so every row's image is checked once, at conversion.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable

IMAGE_CHECKS = ("decode", "exists", "none")
"""decode: open, verify and decode (JPEGs at 1/8 scale, which still reads every byte, so
truncation is caught); exists: only that the file is there and non-empty; none: trust the CSV."""


def find_image(root: str, names: Iterable[str]) -> str | None:
    """The first of ``names`` that is a file under ``root`` (strings, not Paths: this runs per row)."""
    for name in names:
        if os.path.isfile(os.path.join(root, name)):
            return name
    return None


def image_problem(path: str | os.PathLike, mode: str = "decode") -> tuple[str, str] | None:
    """``(reason, detail)`` when the image is unusable, else None. Never raises."""
    if mode == "none":
        return None
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        return "missing_image", f"{path}: {exc.strerror or exc}"
    if size == 0:
        return "unreadable_image", f"{path}: empty file"
    if mode == "exists":
        return None
    from PIL import Image  # imported lazily: listing layouts or parsing fields must not need PIL

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                img.verify()
            with Image.open(path) as img:
                if img.format == "JPEG":
                    img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
                img.load()
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad files; all mean "unreadable"
        return "unreadable_image", f"{path}: {type(exc).__name__}: {exc}"
    return None
