"""Generated photo-like images and their near-duplicates, for the leakage audit's tests and benchmark.

:func:`photo_like` gives each seed its own smooth random scene plus grain (so two seeds share no
structure, as two unrelated photos), at camera-like sizes; :func:`near_copy` makes the copies a
web-scale training set holds: resized, recompressed, lightly cropped.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

NEAR_COPY_KINDS = ("resized", "recompressed", "cropped")


def photo_like(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A deterministic RGB scene: an upsampled random 6x8 colour field with per-pixel grain."""
    rng = np.random.default_rng(seed)
    field = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    grain = rng.integers(-20, 21, (size[1], size[0], 3))
    return Image.fromarray((np.asarray(field, dtype=np.int16) + grain).clip(0, 255).astype(np.uint8))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def near_copy(image: Image.Image, kind: str) -> bytes:
    """JPEG bytes of a near-duplicate: ``resized`` (half size), ``recompressed`` (quality 40) or
    ``cropped`` (2 % off each side)."""
    width, height = image.size
    if kind == "resized":
        return jpeg(image.resize((width // 2, height // 2), Image.BILINEAR))
    if kind == "recompressed":
        return jpeg(image, quality=40)
    if kind == "cropped":
        dx, dy = round(width * 0.02), round(height * 0.02)
        return jpeg(image.crop((dx, dy, width - dx, height - dy)))
    raise ValueError(f"kind must be one of {NEAR_COPY_KINDS}, got {kind!r}")


def write_photos(directory: str | Path, seeds: range | list[int], prefix: str = "p",
                 size: tuple[int, int] = (640, 480)) -> list[Path]:
    """Write ``photo_like(seed)`` as ``{prefix}{seed:06d}.jpg`` for each seed; the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = directory / f"{prefix}{seed:06d}.jpg"
        path.write_bytes(jpeg(photo_like(seed, size)))
        paths.append(path)
    return paths
