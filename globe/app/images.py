"""The photo a user gives the app: checked, downscaled when huge (as eval does), and its EXIF GPS read.

Why on the server and not in the browser: the ``/locate`` API takes any file, so the server must
say clearly when a file is not an image, and must not send a 40-megapixel photo to a model that
resizes it to about one megapixel anyway. The bytes sent come from the evaluation's own bounded
reader (:func:`globe.data.images.request_image`: regular files of at most 64 MiB, a JPEG decoded
at reduced size, downscaled to ``GLOBE_MAX_IMAGE_PIXELS``, default the family's budget), so the app
sends a photo exactly as ``globe-eval`` would.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

# EXIF tag numbers (PIL.ExifTags): the GPS sub-IFD and its fields.
_GPS_IFD = 0x8825
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4


class ImageProblem(ValueError):
    """The file cannot be used as a photo; the message names the file and what to do."""


@dataclass(frozen=True)
class PreparedImage:
    """What the model receives (``data``) and what the page reports about it."""

    data: bytes
    width: int  # of the original
    height: int
    sent_width: int
    sent_height: int
    gps: tuple[float, float] | None  # (lat, lon) from EXIF, when present and valid
    digest: str  # sha256 of the original file's bytes: identifies a bundled sample image

    @property
    def downscaled(self) -> bool:
        return (self.sent_width, self.sent_height) != (self.width, self.height)


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rational(value: object) -> float:
    """An EXIF rational (PIL's IFDRational, a float, or a (num, den) pair) as a float."""
    if isinstance(value, tuple) and len(value) == 2:
        numerator, denominator = value
        return float(numerator) / float(denominator)
    return float(value)  # type: ignore[arg-type]


def _degrees(dms: object, ref: object, negative_ref: str) -> float:
    parts = [_rational(part) for part in dms]  # type: ignore[union-attr]
    degrees = parts[0] + (parts[1] if len(parts) > 1 else 0) / 60 + (parts[2] if len(parts) > 2 else 0) / 3600
    ref_text = ref.decode("ascii", "ignore") if isinstance(ref, bytes) else str(ref or "")
    return -degrees if ref_text.strip().upper().startswith(negative_ref) else degrees


def exif_gps(image) -> tuple[float, float] | None:
    """``(lat, lon)`` from a PIL image's EXIF GPS tags, or ``None`` when absent or malformed.

    A camera without a fix writes zeros or garbage; out-of-range values are ignored, not trusted.
    """
    try:
        gps = image.getexif().get_ifd(_GPS_IFD)
        if not gps or _GPS_LAT not in gps or _GPS_LON not in gps:
            return None
        lat = _degrees(gps[_GPS_LAT], gps.get(_GPS_LAT_REF), "S")
        lon = _degrees(gps[_GPS_LON], gps.get(_GPS_LON_REF), "W")
    except Exception:  # noqa: BLE001 - broken EXIF is common and never worth failing the request
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return (lat, lon)


def prepare_image(path: str | Path, max_pixels: int | None = None) -> PreparedImage:
    """Read and check the photo at ``path``; the bytes to send are what ``globe-eval`` would send.

    ``max_pixels``: the pixel budget (``None``: ``GLOBE_MAX_IMAGE_PIXELS``, else
    :data:`globe.data.images.DEFAULT_MAX_PIXELS`). Only the
    original's header is read again (size, EXIF GPS). Raises :class:`ImageProblem` naming the file.
    """
    import io

    from PIL import Image

    from globe.data.images import ImageError, request_image

    path = Path(path)
    label = path.name
    try:
        if path.is_file() and path.stat().st_size == 0:
            raise ImageProblem(f"the uploaded file {label} is empty: choose a photo (JPEG, PNG, WebP...)")
        data = request_image(path, max_pixels)
        with Image.open(path) as original:  # lazy: the header only, no pixels decoded
            width, height = original.size
            gps = exif_gps(original)
        with Image.open(io.BytesIO(data)) as sent:
            sent_size = sent.size
        digest = file_digest(data if sent_size == (width, height) else path.read_bytes())
    except ImageProblem:
        raise
    except FileNotFoundError:
        raise ImageProblem(f"the uploaded file {label} is gone: upload it again") from None
    except ImageError as exc:
        if isinstance(exc.__cause__, Image.UnidentifiedImageError):
            raise ImageProblem(f"{label} is not an image: upload a JPEG, PNG, WebP, GIF or BMP photo") from None
        raise ImageProblem(f"{str(exc).replace(str(path), label)}: upload the photo again, or another one") from None
    except (OSError, ValueError) as exc:
        raise ImageProblem(f"cannot read {label}: {type(exc).__name__}: {exc}") from None
    return PreparedImage(data, width, height, sent_size[0], sent_size[1], gps, digest)
