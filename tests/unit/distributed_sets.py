"""Generated files in each test set's distributed layout (ids, coordinate columns, country codes vs
names, missing names, image folders as distributed), shared by the tests that read them through
`globe-eval`, `globe-data` and the ms-swift registration. Test support: not part of the package."""
from __future__ import annotations

import csv
from pathlib import Path

from globe.geo import resolve
from tests.support.fake_openai import image_marker, marked_jpeg

#: (key, country, city, ISO code, answer): the place a photo was taken and what the scripted model says.
PLACES = [
    ("paris", "France", "Paris", "FR", "<answer>country: France\ncity: Paris</answer>"),  # exact
    ("tokyo", "Japan", "Tokyo", "JP", "<answer>country: Japan\ncity: Osaka</answer>"),  # ~400 km off
    ("nyc", "United States", "New York City", "US", "<answer>country: USA\ncity: NYC</answer>"),  # exact
    ("sydney", "Australia", "Sydney", "AU", "no idea"),  # no answer: wrong everywhere
]
def coordinates(country: str, city: str) -> tuple[float, float]:
    place = resolve(country, city)
    return float(place.lat), float(place.lon)


def write_image(folder: Path, name: str, key: str) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(marked_jpeg(image_marker(key)))


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


PLACES365_HEADER = ["IMG_ID", "AUTHOR", "LAT", "LON", "S3_Label", "S16_Label", "S365_Label", "Prob_indoor",
                    "Prob_natural", "Prob_urban"]


def yfcc4k_places365(root: Path) -> list[str]:
    """``yfcc4k_places365.csv`` as G3 distributes it, images in ``yfcc4k/`` named by IMG_ID."""
    ids = []
    rows = []
    for index, (key, country, city, _, _) in enumerate(PLACES):
        image_id = f"{1000 + index}{index}93.jpg"
        lat, lon = coordinates(country, city)
        rows.append([image_id, f"user{index}@N00", lat, lon, 1, 5, 100, 0.1, 0.2, 0.7])
        write_image(root / "yfcc4k", image_id, key)
        ids.append(image_id)
    write_csv(root / "yfcc4k_places365.csv", PLACES365_HEADER, rows)
    return ids


def yfcc4k_info_txt(root: Path) -> list[str]:
    """OSV-5M's ``yfcc4k/info.txt``: YFCC100M dataset lines (tab-separated, no header, free text with
    stray quotes), photo id at position 1, longitude 12, latitude 13; images ``yfcc4k/images/<id>.jpg``."""
    ids = []
    lines = []
    for index, (key, country, city, _, _) in enumerate(PLACES):
        photo_id = str(8_000_000 + index)
        lat, lon = coordinates(country, city)
        fields = [str(index), photo_id, "hash", "12@N00", "nick", "2010-01-01 00:00:00.0", "1262304000", "Canon",
                  f'my "best {city} trip', "a\tdesc".replace("\t", " "), "tag1,tag2", "", f"{lon}", f"{lat}", "16",
                  "http://page", "http://dl", "license", "http://lic", "1", "2", "s", "so", "jpg", "0"]
        lines.append("\t".join(fields))
        write_image(root / "yfcc4k" / "images", f"{photo_id}.jpg", key)
        ids.append(photo_id)
    (root / "yfcc4k").mkdir(parents=True, exist_ok=True)
    (root / "yfcc4k" / "info.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def im2gps(root: Path) -> list[str]:
    """``im2gps_places365.csv`` lists bare Flickr ids; ``gps_query_imgs`` names each file
    ``<Place>_<NNNNN>_<id>``, so the image is found by the layout's file-id rule."""
    ids = []
    rows = []
    for index, (key, country, city, _, _) in enumerate(PLACES):
        image_id = f"{231521295 + index}_a1b2c3d4e5_{index}_1234567@N00.jpg"
        lat, lon = coordinates(country, city)
        rows.append([image_id, "author", lat, lon, 1, 2, 3, 0.1, 0.2, 0.7])
        write_image(root / "gps_query_imgs", f"{city.replace(' ', '_')}_{index:05d}_{image_id}", key)
        ids.append(image_id)
    write_image(root / "gps_query_imgs", "Rome_00099_99_ff_1_1@N00.jpg", "unlisted")  # not in the CSV
    write_csv(root / "im2gps_places365.csv", PLACES365_HEADER, rows)
    return ids


def yfcc26k(root: Path) -> list[str]:
    """``yfcc25600_places365.csv``: nested MP16-style ids (``3f/0a/<id>.jpg``) over a flat ``yfcc25600/``."""
    ids = []
    rows = []
    for index, (key, country, city, _, _) in enumerate(PLACES):
        image_id = f"3f/0a/{5466264617 + index}.jpg"
        lat, lon = coordinates(country, city)
        rows.append([image_id, "author", lat, lon, 1, 2, 3, 0.1, 0.2, 0.7])
        write_image(root / "yfcc25600", image_id.replace("/", "_"), key)
        ids.append(image_id)
    write_csv(root / "yfcc25600_places365.csv", PLACES365_HEADER, rows)
    return ids


def osv5m_test(root: Path) -> list[str]:
    """OSV-5M ``test.csv``: numeric ids, ``latitude``/``longitude``, ISO country codes, one empty city
    (filled by reverse geocoding); images ``osv5m/images/test/<id>.jpg``."""
    ids = []
    rows = []
    for index, (key, country, city, code, _) in enumerate(PLACES):
        image_id = str(91_000 + index)
        lat, lon = coordinates(country, city)
        rows.append([image_id, lat, lon, "http://thumb", code, "region", "sub", "" if key == "sydney" else city])
        write_image(root / "osv5m" / "images" / "test", f"{image_id}.jpg", key)
        ids.append(image_id)
    write_csv(root / "osv5m" / "test.csv", ["id", "latitude", "longitude", "thumb_original_url", "country",
                                               "region", "sub-region", "city"], rows)
    return ids


FIXTURES = {"yfcc4k": yfcc4k_places365, "yfcc4k-info": yfcc4k_info_txt, "im2gps": im2gps, "yfcc26k": yfcc26k,
            "osv5m-test": osv5m_test}
