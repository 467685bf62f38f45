"""Build the bundled sample under ``data/sample/``, deterministically.

Small generated pictures (shapes, colours and a city code drawn with PIL, no third-party
photos) paired with *real* places (real coordinates of real cities on every continent), laid out
the way the released files are named (the released eval's ``data/`` folder), then run through
the same converter users run:

    data/sample/
      mp16-reason-train.csv     IMG_ID, LAT, LON, city, country, response, solution, entities, locatable
      mp16-reason-rm.csv        IMG_ID, response, locatable             (images in train_images/)
      mp16-reason-test-12k.csv  IMG_ID, LAT, LON, city, country         (images in eval_images/)
      img2gps3k_gt.csv          IMG_ID, AUTHOR, LAT, LON, S3_Label, ... (images in im2gps3ktest/)
      test_mini.csv             id, latitude, longitude, ..., country (ISO code), ..., city
                                                                        (images in osv-test-mini-3k/)
      train_images/ eval_images/ im2gps3ktest/ osv-test-mini-3k/        the JPEGs the ids name
      mp16-reason-train.jsonl mp16-reason-rm.jsonl mp16-reason-test-12k.jsonl
      im2gps3k.jsonl osv5m-test-mini-3k.jsonl                           <- globe-data convert

So ``GLOBE_DATA_ROOT=data/sample`` points every registered dataset name (and ``globe-eval
--dataset``) at the sample. A few rows spell countries the way sources do ("USA", "Czech
Republic", ISO codes) to show normalisation. Rebuild with ``python -m globe.data sample``;
the output is byte-identical.
"""
from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from globe import REPO_ROOT

from .convert import ConvertOptions, convert
from .geocode import GeoLookup
from .report import ConversionReport

SAMPLE_DIR = REPO_ROOT / "data" / "sample"
IMAGE_SIZE = (96, 96)
IMAGE_FOLDERS = ("train_images", "eval_images", "im2gps3ktest", "osv-test-mini-3k")


@dataclass(frozen=True)
class Place:
    city: str
    country: str  # as the source file spells it
    lat: float
    lon: float
    code: str  # drawn on the picture
    clue: str = ""
    entities: tuple[str, ...] = field(default_factory=tuple)


TRAIN_PLACES: tuple[Place, ...] = (
    Place("Paris", "France", 48.8566, 2.3522, "PAR",
          "a wrought-iron lattice tower above cream stone facades", ("Eiffel Tower", "Haussmann facades")),
    Place("Tokyo", "Japan", 35.6762, 139.6503, "TYO",
          "dense neon signage in kanji and katakana", ("kanji signage", "Tokyo Tower")),
    Place("New York City", "USA", 40.7128, -74.0060, "NYC",
          "yellow taxis in a grid of steel skyscrapers", ("yellow cabs", "Empire State Building")),
    Place("Rio de Janeiro", "Brazil", -22.9068, -43.1729, "RIO",
          "a statue on a granite peak over a curved beach", ("Christ the Redeemer", "Sugarloaf Mountain")),
    Place("Cairo", "Egypt", 30.0444, 31.2357, "CAI",
          "limestone pyramids at the edge of a desert city", ("Giza pyramids", "Arabic script")),
    Place("Sydney", "Australia", -33.8688, 151.2093, "SYD",
          "white sail-shaped shells on a harbour", ("Sydney Opera House", "Harbour Bridge")),
    Place("Moscow", "Russia", 55.7558, 37.6173, "MOW",
          "coloured onion domes and Cyrillic shop signs", ("onion domes", "Cyrillic signage")),
    Place("Mumbai", "India", 19.0760, 72.8777, "BOM",
          "black-and-yellow auto rickshaws under a basalt arch", ("auto rickshaws", "Gateway of India")),
    Place("Cape Town", "South Africa", -33.9249, 18.4241, "CPT",
          "a flat-topped mountain behind a harbour", ("Table Mountain",)),
    Place("Buenos Aires", "Argentina", -34.6037, -58.3816, "BUE",
          "a white obelisk on a very wide avenue", ("Obelisco",)),
    Place("Istanbul", "Turkey", 41.0082, 28.9784, "IST",
          "domes and slender minarets over a strait", ("minarets", "Bosphorus")),
    Place("Bangkok", "Thailand", 13.7563, 100.5018, "BKK",
          "tuk-tuks and signs in Thai script", ("tuk-tuk", "Thai script")),
    Place("Mexico City", "Mexico", 19.4326, -99.1332, "MEX",
          "a huge square with a flag before a baroque cathedral", ("Zocalo", "Metropolitan Cathedral")),
    Place("Toronto", "Canada", 43.6532, -79.3832, "YYZ", "a concrete needle tower by a lake", ("CN Tower",)),
    Place("Rome", "Italy", 41.9028, 12.4964, "ROM", "a ruined elliptical amphitheatre of travertine", ("Colosseum",)),
    Place("Barcelona", "Spain", 41.3874, 2.1686, "BCN",
          "organic stone spires of an unfinished basilica", ("Sagrada Familia",)),
    Place("Berlin", "Germany", 52.5200, 13.4050, "BER", "a neoclassical gate with a quadriga", ("Brandenburg Gate",)),
    Place("London", "United Kingdom", 51.5074, -0.1278, "LON",
          "red double-decker buses driving on the left", ("double-decker bus", "Big Ben")),
    Place("Beijing", "China", 39.9042, 116.4074, "PEK", "vermilion walls and yellow glazed roofs", ("Forbidden City",)),
    Place("Seoul", "South Korea", 37.5665, 126.9780, "SEL",
          "Hangul signage and a palace gate among towers", ("Hangul signage",)),
    Place("Nairobi", "Kenya", -1.2921, 36.8219, "NBO", "painted matatu minibuses and red soil", ("matatu",)),
    Place("Lima", "Peru", -12.0464, -77.0428, "LIM", "ochre colonial balconies under a grey coastal sky"),
    Place("Reykjavik", "Iceland", 64.1466, -21.9426, "REK",
          "a stepped concrete church spire and bare hills", ("Hallgrimskirkja",)),
    Place("Prague", "Czech Republic", 50.0755, 14.4378, "PRG", "a stone bridge lined with statues below a castle"),
    Place("Hanoi", "Vietnam", 21.0278, 105.8342, "HAN", "swarms of motorbikes along narrow tube houses"),
    Place("Marrakesh", "Morocco", 31.6295, -7.9811, "RAK", "red clay walls and a square minaret"),
    Place("Auckland", "New Zealand", -36.8485, 174.7633, "AKL",
          "a needle tower over a harbour full of sailboats", ("Sky Tower",)),
    Place("Dubai", "United Arab Emirates", 25.2048, 55.2708, "DXB",
          "a record-tall tapering glass tower in the desert", ("Burj Khalifa",)),
)

TEST_PLACES: tuple[Place, ...] = (
    Place("Amsterdam", "Netherlands", 52.3676, 4.9041, "AMS"),
    Place("Lisbon", "Portugal", 38.7223, -9.1393, "LIS"),
    Place("Singapore", "Singapore", 1.3521, 103.8198, "SIN"),
    Place("Santiago", "Chile", -33.4489, -70.6693, "SCL"),
    Place("Athens", "Greece", 37.9838, 23.7275, "ATH"),
    Place("Vancouver", "Canada", 49.2827, -123.1207, "YVR"),
    Place("Kyoto", "Japan", 35.0116, 135.7681, "KYO"),
    Place("Havana", "Cuba", 23.1136, -82.3666, "HAV"),
)

IM2GPS_PLACES: tuple[Place, ...] = (
    Place("Venice", "", 45.4408, 12.3155, "VCE"),
    Place("San Francisco", "", 37.7749, -122.4194, "SFO"),
    Place("Edinburgh", "", 55.9533, -3.1883, "EDI"),
    Place("Kathmandu", "", 27.7172, 85.3240, "KTM"),
    Place("Melbourne", "", -37.8136, 144.9631, "MEL"),
)

OSV_PLACES: tuple[Place, ...] = (
    Place("Helsinki", "FI", 60.1699, 24.9384, "HEL"),
    Place("Warsaw", "PL", 52.2297, 21.0122, "WAW"),
    Place("Bogota", "CO", 4.7110, -74.0721, "BOG"),
    Place("Johannesburg", "ZA", -26.2041, 28.0473, "JNB"),
    Place("Osaka", "JP", 34.6937, 135.5023, "OSA"),
)

# Reasoning that does not pin a place down: the negative class of the locatability RM sample.
UNLOCATABLE_REASONING = (
    "The picture shows only a clear blue sky and a blurred edge of a roof; "
    "there is no sign, landmark or vegetation to go on.",
    "A close-up of a plate of food on a plain table; nothing in the frame indicates a country or a city.",
    "An indoor white wall with a lamp; no text, architecture style or landscape is visible.",
    "Dark night sky with a few lights; the scene has no distinguishing feature of any place.",
)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def mp16_style_id(place: Place, split: str) -> str:
    """An id shaped like MP16's (``7e_c3_8163912402.jpg``), derived from the place."""
    d = _digest(f"{split}:{place.city}")
    return f"{d[0]:02x}_{d[1]:02x}_{int.from_bytes(d[2:7], 'big') % 10**10:010d}.jpg"


def im2gps_style_id(place: Place) -> str:
    d = _digest(f"im2gps:{place.city}")
    return f"{int.from_bytes(d[:4], 'big')}_{d[4:9].hex()}_{d[9] * 4 + 1000}_{int.from_bytes(d[10:13], 'big')}@N00.jpg"


def osv_style_id(place: Place) -> str:
    return str(int.from_bytes(_digest(f"osv:{place.city}")[:7], "big"))


def draw_image(place: Place, path: Path) -> None:
    """A 96x96 JPEG: sky and ground in place-derived colours, a landmark shape, the city code."""
    from PIL import Image, ImageDraw, ImageFont

    d = _digest(place.city)
    sky = (90 + d[0] % 120, 120 + d[1] % 110, 170 + d[2] % 80)
    ground = (60 + d[3] % 120, 70 + d[4] % 110, 40 + d[5] % 90)
    accent = (d[6], d[7], d[8])
    w, h = IMAGE_SIZE
    img = Image.new("RGB", IMAGE_SIZE, sky)
    draw = ImageDraw.Draw(img)
    horizon = 55 + d[9] % 15
    draw.rectangle([0, horizon, w, h], fill=ground)
    shape = d[10] % 4
    cx = 25 + d[11] % 46
    if shape == 0:  # tower
        draw.polygon([(cx - 10, horizon), (cx + 10, horizon), (cx, 12)], fill=accent)
    elif shape == 1:  # dome
        draw.pieslice([cx - 18, horizon - 30, cx + 18, horizon + 6], 180, 360, fill=accent)
    elif shape == 2:  # block skyline
        for i in range(4):
            top = 20 + (d[12 + i] % 30)
            draw.rectangle([cx - 24 + 12 * i, top, cx - 14 + 12 * i, horizon], fill=accent)
    else:  # arch
        draw.rectangle([cx - 16, horizon - 30, cx + 16, horizon], fill=accent)
        draw.ellipse([cx - 8, horizon - 20, cx + 8, horizon + 4], fill=sky)
    draw.ellipse([w - 22, 6, w - 8, 20], fill=(250, 230, 120))
    draw.text((4, h - 14), place.code, fill=(255, 255, 255), font=ImageFont.load_default())
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="JPEG", quality=70, optimize=True)


def reasoning_for(place: Place) -> str:
    cue = f"The image shows {place.clue}" if place.clue else "The scene's buildings and street furniture are typical"
    named = f" ({', '.join(place.entities)})" if place.entities else ""
    return (f"{cue}{named}. These cues are characteristic of {place.city}, "
            f"so the photo was most likely taken in {place.city}, {place.country}.")


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_raw_files(out_dir: Path) -> dict[str, tuple[Path, Path, str]]:
    """Write images and CSVs; return {output jsonl name: (csv, image folder, layout)}."""
    train_rows, rm_rows = [], []
    for i, place in enumerate(TRAIN_PLACES):
        image_id = mp16_style_id(place, "train")
        draw_image(place, out_dir / "train_images" / image_id)
        entities = json.dumps([{"text": e} for e in place.entities], ensure_ascii=False) if place.entities else ""
        solution = f"<country>{place.country}</country><city>{place.city}</city>"
        train_rows.append([image_id, place.lat, place.lon, place.city, place.country, reasoning_for(place),
                           solution, entities, "yes"])
        if i % 3 == 0:
            rm_rows.append([image_id, reasoning_for(place), "yes"])
        if i % 7 == 3:
            rm_rows.append([image_id, UNLOCATABLE_REASONING[(i // 7) % len(UNLOCATABLE_REASONING)], "no"])
    _write_csv(out_dir / "mp16-reason-train.csv",
               ["IMG_ID", "LAT", "LON", "city", "country", "response", "solution", "entities", "locatable"], train_rows)
    _write_csv(out_dir / "mp16-reason-rm.csv", ["IMG_ID", "response", "locatable"], rm_rows)

    test_rows = []
    for place in TEST_PLACES:
        image_id = mp16_style_id(place, "test")
        draw_image(place, out_dir / "eval_images" / image_id)
        test_rows.append([image_id, place.lat, place.lon, place.city, place.country])
    _write_csv(out_dir / "mp16-reason-test-12k.csv", ["IMG_ID", "LAT", "LON", "city", "country"], test_rows)

    rows = []
    for place in IM2GPS_PLACES:
        image_id = im2gps_style_id(place)
        draw_image(place, out_dir / "im2gps3ktest" / image_id)
        author = image_id.split("_")[-1].removesuffix(".jpg")
        rows.append([image_id, author, place.lat, place.lon, 2, 11, 200, 0.1, 0.2, 0.7])
    _write_csv(out_dir / "img2gps3k_gt.csv",
               ["IMG_ID", "AUTHOR", "LAT", "LON", "S3_Label", "S16_Label", "S365_Label", "Prob_indoor", "Prob_natural",
                "Prob_urban"], rows)

    rows = []
    for i, place in enumerate(OSV_PLACES):
        image_id = osv_style_id(place)
        draw_image(place, out_dir / "osv-test-mini-3k" / f"{image_id}.jpg")
        rows.append([image_id, place.lat, place.lon, "", place.country, f"seq{i}", f"2019-0{i + 1}-15", "", "",
                     place.city])
    _write_csv(out_dir / "test_mini.csv",
               ["id", "latitude", "longitude", "thumb_original_url", "country", "sequence", "captured_at", "region",
                "sub-region", "city"], rows)
    return {
        "mp16-reason-train.jsonl": (out_dir / "mp16-reason-train.csv", out_dir / "train_images", "mp16-reason"),
        "mp16-reason-rm.jsonl": (out_dir / "mp16-reason-rm.csv", out_dir / "train_images", "mp16-reason"),
        "mp16-reason-test-12k.jsonl": (out_dir / "mp16-reason-test-12k.csv", out_dir / "eval_images", "mp16-reason"),
        "im2gps3k.jsonl": (out_dir / "img2gps3k_gt.csv", out_dir / "im2gps3ktest", "im2gps3k"),
        "osv5m-test-mini-3k.jsonl": (out_dir / "test_mini.csv", out_dir / "osv-test-mini-3k", "osv5m"),
    }


def build_sample(out_dir: str | Path = SAMPLE_DIR, *, geo: GeoLookup | None = None,
                 progress: bool = False) -> dict[str, ConversionReport]:
    """(Re)write the whole sample into ``out_dir`` and convert it; returns a report per JSONL."""
    out_dir = Path(out_dir)
    for folder in IMAGE_FOLDERS:
        if (out_dir / folder).exists():
            shutil.rmtree(out_dir / folder)
    sources = write_raw_files(out_dir)
    geo = geo or GeoLookup()
    reports = {}
    for name, (csv_path, image_dir, layout) in sources.items():
        options = ConvertOptions(layout=layout, image_root=image_dir, progress=progress, workers=1,
                                 dedupe_by="id+reasoning" if name.endswith("rm.jsonl") else "id")
        reports[name] = convert(csv_path, out_dir / name, options, rm_out=True, geo=geo, write_report=False)
    return reports
