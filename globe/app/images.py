"""The photo a user gives the app: checked, downscaled when huge, and its EXIF GPS read.

Why here and not in the browser: the ``/locate`` API takes any file, so the server must say
clearly when a file is not an image, and must not send a 40-megapixel photo as a 30 MB base64
body to a model that resizes it to about one megapixel anyway (Qwen2.5-VL's processor does).
"""
from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

#: Longest side, in pixels, of the image sent to the model; larger photos are downscaled first.
#: 2048 keeps every detail a 7B VLM's processor keeps (it caps at ~12.8 MP, usually far less).
DEFAULT_MAX_SIDE = 2048
#: Refuse to decode more pixels than this (a decompression bomb or a panorama gone wrong).
MAX_PIXELS = 200_000_000
#: Refuse files larger than this many bytes before reading them whole.
MAX_FILE_BYTES = 64 * 1024 * 1024

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


def prepare_image(path: str | Path, max_side: int = DEFAULT_MAX_SIDE) -> PreparedImage:
    """Read, check and (when its longest side exceeds ``max_side``) downscale the photo at ``path``.

    An image within the limit is sent byte for byte (no re-encoding, EXIF kept); a larger one is
    decoded at reduced size (JPEG draft mode: a 12000 px photo never lives at full size in
    memory), resized and sent as a JPEG of quality 90. Raises :class:`ImageProblem`.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    label = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageProblem(f"cannot read the uploaded file {label}: {exc.strerror or exc}") from None
    if size == 0:
        raise ImageProblem(f"the uploaded file {label} is empty: choose a photo (JPEG, PNG, WebP...)")
    if size > MAX_FILE_BYTES:
        raise ImageProblem(f"the uploaded file {label} is {size / 2**20:.0f} MB; the limit is "
                           f"{MAX_FILE_BYTES / 2**20:.0f} MB: export a smaller JPEG")
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageProblem(f"{label} is {width}x{height} pixels, more than {MAX_PIXELS:,}: "
                                       "downscale it before uploading")
                gps = exif_gps(image)
                if max(width, height) <= max_side:
                    image.load()  # decodes every byte: a truncated file fails here, not at the server
                    return PreparedImage(data, width, height, width, height, gps, file_digest(data))
                scale = max_side / max(width, height)
                target = (max(1, round(width * scale)), max(1, round(height * scale)))
                if image.format == "JPEG":
                    image.draft("RGB", target)
                image = ImageOps.exif_transpose(image)  # EXIF rotation is lost on re-encoding: apply it
                image = image.convert("RGB")
                target = (max(1, round(image.width * max_side / max(image.size))),
                          max(1, round(image.height * max_side / max(image.size))))
                image = image.resize(target, Image.Resampling.LANCZOS)
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=90)
                return PreparedImage(buffer.getvalue(), width, height, image.width, image.height, gps,
                                     file_digest(data))
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem(f"{label} is too large to decode safely ({exc}); downscale it before uploading") from None
    except Image.UnidentifiedImageError:
        raise ImageProblem(f"{label} is not an image: upload a JPEG, PNG, WebP, GIF or BMP photo") from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for broken images
        raise ImageProblem(f"{label} is not an image this app can read ({type(exc).__name__}: {exc}); "
                           "upload a JPEG, PNG, WebP, GIF or BMP photo") from None
