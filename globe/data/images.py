"""Finding a row's image on disk, telling whether it can be decoded, and reading it for a request.

The released MP16-Reason train zip holds fewer images than its CSV lists, and a corrupt JPEG
only fails deep inside a training step, so every row's image is checked once, at conversion.

:func:`request_image` is the one bounded reader for images sent to a server (``globe-eval``,
``globe-distill``): it refuses what is not a regular file (a FIFO named ``x.jpg`` would block a
read forever, a symlink to ``/dev/zero`` would never end) and files over ``max_bytes``, and it
never decodes a huge image at full size: a JPEG is decoded at 1/2, 1/4 or 1/8 scale (``draft``)
before it is downscaled to the pixel budget, so sixteen 12000x12000 photos in flight cost tens of
MB, not gigabytes (``bench/eval_memory.py``).

The pixel budget is a knob (``max_pixels``, else ``GLOBE_MAX_IMAGE_PIXELS``, else
:data:`DEFAULT_MAX_PIXELS`, the image budget the paper trains and serves Qwen2.5-VL with,
from :mod:`globe.families`). An image within it is sent byte for byte, as the released eval did; a larger one is sent
as a JPEG (quality 95) of at most that many pixels, which a server capped at the same budget
would have resized to anyway. ``GLOBE_MAX_IMAGE_PIXELS=0`` sends every image as is (decoded at
1/8 scale only to check it). ``globe-eval --released-settings`` sends every file unchanged, as
``data:image;base64,...`` (:func:`released_image_url`), as the released eval did.
"""
from __future__ import annotations

import io
import math
import os
import stat
import threading
import warnings
from typing import BinaryIO

from globe.families import DEFAULT_FAMILY, FAMILIES

#: The default family's image budget in pixels (the released 1,280 visual tokens: 1003520 on Qwen2.5-VL).
DEFAULT_MAX_PIXELS = FAMILIES[DEFAULT_FAMILY].budget_pixels()
DEFAULT_MAX_BYTES = 64 << 20
JPEG_QUALITY = 95
#: Files up to this size are read whole before they are parsed (see :func:`request_image`).
IN_MEMORY_BYTES = 4 << 20
#: Downscales at once in this process: each holds tens of MB (a 12000x12000 JPEG at 1/8 scale and its
#: copies), and decoding is CPU-bound, so more at once would cost memory without adding speed.
_DOWNSCALE_SLOTS = threading.BoundedSemaphore(4)

IMAGE_CHECKS = ("decode", "exists", "none")
"""decode: open, verify and decode (JPEGs at 1/8 scale, which still reads every byte, so
truncation is caught); exists: only that the file is there and non-empty; none: trust the CSV."""


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


class ImageError(ValueError):
    """An image that will not be sent; ``status`` is the per-row status (``unreadable_image``/``corrupt_image``)."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


def _limit(value: int | None, variable: str, default: int) -> int:
    if value is not None:
        return value
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r}: expected a whole number") from None


def open_image_file(path: str | os.PathLike, max_bytes: int | None = None) -> BinaryIO:
    """``path`` opened for reading, if it is a regular file of at most ``max_bytes`` (``GLOBE_MAX_IMAGE_BYTES``,
    default 64 MiB).

    Opened non-blocking and judged by ``fstat`` of what was opened (so a FIFO never blocks and a
    symlink to ``/dev/zero`` is judged by its target). Raises FileNotFoundError when absent and
    :class:`ImageError` for anything that is not a plain file or is too large, before reading a byte.
    """
    limit = _limit(max_bytes, "GLOBE_MAX_IMAGE_BYTES", DEFAULT_MAX_BYTES)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                    or stat.S_ISBLK(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode)
                    else "not a regular file")
            raise ImageError(f"{path} is {kind}, not an image file; refusing to read it", "unreadable_image")
        if info.st_size > limit:
            raise ImageError(f"{path} is {info.st_size:,} bytes, over the {limit:,}-byte limit for one image "
                             "(GLOBE_MAX_IMAGE_BYTES)", "unreadable_image")
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def _read_capped(handle: BinaryIO, path: str | os.PathLike, limit: int) -> bytes:
    """The rest of ``handle``, refused past ``limit`` bytes.

    Asks for the size ``fstat`` gives plus one byte first, not ``limit + 1`` at once: a buffered
    read of n bytes allocates n bytes before it reads, and 64 MiB per small photo cost more than
    decoding it. A file that grew since is read on, up to the same ``limit + 1``.
    """
    expected = max(0, os.fstat(handle.fileno()).st_size - handle.tell())
    data = handle.read(min(expected, limit) + 1)
    if len(data) > expected and len(data) <= limit:  # it grew: read on, within the same limit
        data += handle.read(limit + 1 - len(data))
    if len(data) > limit:  # it grew while we read it
        raise ImageError(f"{path} grew past the {limit:,}-byte limit while being read", "unreadable_image")
    return data


def request_image(path: str | os.PathLike, max_pixels: int | None = None, max_bytes: int | None = None) -> bytes:
    """The image bytes to send for ``path``: the file itself, or a JPEG downscaled to the pixel budget.

    See the module docstring. Only an image sent as is (or a file of at most :data:`IN_MEMORY_BYTES`)
    is held in memory whole; a larger one is decoded from the file at reduced size. Raises FileNotFoundError, or :class:`ImageError` naming the file.
    """
    budget = _limit(max_pixels, "GLOBE_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS)
    limit = _limit(max_bytes, "GLOBE_MAX_IMAGE_BYTES", DEFAULT_MAX_BYTES)
    from PIL import Image

    with open_image_file(path, limit) as handle:
        # A small file is read once and parsed in memory (PIL reads a JPEG marker by marker: many small
        # reads); a large one is parsed from the file, so a huge photo is never held whole.
        data = _read_capped(handle, path, limit) if os.fstat(handle.fileno()).st_size <= IN_MEMORY_BYTES else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # DecompressionBombWarning: we never decode at full size here
                with Image.open(handle if data is None else io.BytesIO(data)) as image:
                    width, height = image.size
                    if budget <= 0 or width * height <= budget:
                        if image.format == "JPEG":  # a check that reads every byte, at 1/8 of the memory
                            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                        image.load()
                        smaller = None
                    else:
                        scale = math.sqrt(budget / (width * height))
                        target = (max(1, int(width * scale)), max(1, int(height * scale)))
                        with _DOWNSCALE_SLOTS:  # bounded however many threads load images
                            image.draft("RGB", target)  # JPEG: the smallest 1/2^k scale still at least target
                            smaller = image.convert("RGB").resize(target, Image.Resampling.LANCZOS)
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for broken files; all mean "cannot decode"
            raise ImageError(f"cannot decode {path}: {type(exc).__name__}: {exc}", "corrupt_image") from exc
        if smaller is None:
            if data is not None:
                return data
            handle.seek(0)
            return _read_capped(handle, path, limit)
    buffer = io.BytesIO()
    smaller.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def released_image_url(path: str | os.PathLike, max_bytes: int | None = None) -> str:
    """The file's bytes unchanged as ``data:image;base64,...``: the image URL the released eval sent.

    No resizing, no re-encoding and no MIME subtype, as released (``--released-settings``); the
    file is still read through :func:`request_image`'s checks (a regular file within the byte
    limit that decodes), so a broken file is a row status instead of a request.
    """
    import base64

    data = request_image(path, max_pixels=0, max_bytes=max_bytes)
    return "data:image;base64," + base64.b64encode(data).decode("ascii")
