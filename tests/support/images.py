"""Small generated images for tests and benchmarks (no third-party photos anywhere in GLOBE)."""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw


def make_image(seed: int, size: tuple[int, int] = (96, 80)) -> Image.Image:
    """A deterministic picture: a coloured background with a few shapes, different per seed."""
    width, height = size
    background = ((seed * 67) % 256, (seed * 131 + 40) % 256, (seed * 29 + 90) % 256)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for k in range(3):
        x0 = (seed * 13 + k * 23) % max(1, width - 20)
        y0 = (seed * 7 + k * 17) % max(1, height - 20)
        colour = ((background[0] + 90 * (k + 1)) % 256, (background[1] + 60) % 256, (background[2] + 120) % 256)
        draw.rectangle([x0, y0, x0 + 18, y0 + 14], fill=colour)
    return image


def jpeg_bytes(seed: int, size: tuple[int, int] = (96, 80)) -> bytes:
    """``make_image`` encoded as JPEG bytes (the form ms-swift passes images to rewards in)."""
    buffer = io.BytesIO()
    make_image(seed, size).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def write_images(directory: str | Path, count: int, prefix: str = "img", size: tuple[int, int] = (96, 80)) -> list[Path]:
    """Write ``count`` JPEGs named ``{prefix}{i:03d}.jpg`` and return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / f"{prefix}{i:03d}.jpg"
        path.write_bytes(jpeg_bytes(i, size))
        paths.append(path)
    return paths


def gps_jpeg(lat: float, lon: float, size: tuple[int, int] = (96, 80), seed: int = 0) -> bytes:
    """``make_image`` as a JPEG whose EXIF carries GPS coordinates, as a phone camera writes them."""
    from PIL import Image as PILImage

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        degrees, minutes = int(value), int(abs(value) * 60) % 60
        return (float(degrees), float(minutes), round((value * 3600) % 60, 4))

    image = make_image(seed, size)
    exif = PILImage.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, exif=exif)
    return buffer.getvalue()
