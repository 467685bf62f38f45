"""Train/test leakage audit: test images that are near-duplicates of training images.

``globe-data leakage --train TRAIN --test TEST --out pairs.csv`` hashes every image with a
perceptual hashes (``imagehash``'s 64-bit dHash and pHash), finds each test image's nearest
training image by dHash Hamming distance and writes one CSV row per test image. Resized and
recompressed copies hash within a bit or two of their original; a light crop (2-3 % per side)
moves the dHash by up to ~10 bits and the pHash by up to ~14 (measured on
``tests.support.photos``), so a pair is a **leak** when

    dHash distance <= ``threshold`` (default :data:`LEAK_THRESHOLD` = 10 of 64 bits)
    and pHash distance <= ``phash_threshold`` (default :data:`PHASH_THRESHOLD` = 16 of 64 bits).

Two unrelated photos differ in about 32 bits of each hash. For uniform 64-bit hashes a pair is
within 10 bits by chance with probability ~1e-8 and within 16 with ~3e-5, so requiring both
keeps the expected number of chance pairs of 3k test against 1M training images near 1e-3
(the dHash alone would give ~30).

Inputs (``TRAIN``/``TEST``): a CSV with an image id column (any ``globe-data`` alias: ``IMG_ID``,
``id``, ``image``...; ids name files under ``--train-images``/``--test-images``, default the
CSV's folder, with the MP16 rule that a bare id is ``<id>.jpg``), the JSONL ``globe-data
convert`` writes (a registered dataset's own file: each row's ``image_id`` and its first
``images`` path, relative to the JSONL's folder as the registry reads it, or to
``--train-images``/``--test-images`` when given), a text file with one image path per line, or
a folder (every image under it; ids are paths relative to it).

Speed (MP16 is 4.7M images):

* **Hashing**: JPEGs are decoded with PIL's draft mode (DCT scaling straight to ~1/8 size),
  both hashes come from one decode, ``workers`` processes share the files. ``bench/leakage.py``
  prints images per second against a full-size decode.
* **Index**: the training hashes are computed once and kept beside the training list as
  ``<TRAIN>.phash.npz`` (:func:`index_path`), reused while the list file, the image folder and
  the hash settings are unchanged (else rebuilt, or always with ``--rebuild-index``). "Unchanged"
  is the list file's size and modification time, or for a folder its own modification time, which
  files added to its subfolders do not change: pass ``--rebuild-index`` after such a change.
  The build saves every :data:`PART_SIZE` hashes (``<index>.parts/``), so a killed build
  resumes from its last whole part.
* **Query**: multi-index hashing (:class:`HammingIndex`): the 64 bits are four 16-bit chunks; a
  hash within ``r`` bits of a query matches it within ``r // 4`` bits in at least one chunk
  (pigeonhole), so only the training hashes in those few buckets are compared, exactly. Up to
  :data:`MIH_MAX_RADIUS` bits this enumerates <= 137 keys per chunk; a larger ``--radius``
  falls back to a numpy brute force (exact, slower).

The CSV (:data:`PAIR_COLUMNS`): ``test_id``, the nearest training image within ``radius``
bits of dHash (``train_id``, empty when none is that close; ties go to the earlier training
row), its dHash ``distance`` and ``phash_distance``, ``leak`` (1/0) and ``status`` (``ok``, or
``unreadable`` for a test image that could not be decoded: never a leak, counted in the
printout). ``globe-eval --exclude pairs.csv`` evaluates without the leaking rows
(:func:`read_excluded_ids`).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

#: dHash bits (of 64) within which a test image is a near-duplicate of a training image.
LEAK_THRESHOLD = 10
#: pHash bits (of 64) a pair must also be within to count as a leak (rules out chance dHash hits).
PHASH_THRESHOLD = 16
#: Default search radius (dHash bits) for the nearest training image the CSV reports.
SEARCH_RADIUS = 11
#: Largest radius the multi-index search serves; larger ones use brute force.
MIH_MAX_RADIUS = 11
#: JPEG draft size: PIL decodes at the smallest DCT scale (1/2..1/8) keeping both sides >= this (pHash needs 32x32).
DRAFT_SIZE = (32, 32)
INDEX_VERSION = 1
PAIR_COLUMNS = ["test_id", "train_id", "distance", "phash_distance", "leak", "status"]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})


# --------------------------------------------------------------------------- inputs


def _csv_rows(path: Path) -> list[list[str]]:
    """The records of a CSV (``globe.data.csvfile``, the one CSV reader); a broken line is an error naming it."""
    from globe.data.csvfile import open_csv

    rows = []
    with open_csv(path) as (records, _):
        for record in records:
            if record.fields is None:
                raise ValueError(f"{path}, line {record.line}: {record.error}")
            rows.append(record.fields)
    return rows


def read_image_list(source: str | os.PathLike, image_root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """``(id, image path)`` for every image ``source`` lists (see the module docstring), in its order.

    A CSV's ids are found as ``globe-eval`` finds them (:func:`globe.data.image_paths.resolve_image_path`:
    confined to the image folder, a bare MP16 id is ``<id>.jpg``); an id that leaves the folder keeps
    its literal path outside it, which is then reported unreadable, never read. A plain list's
    paths are taken as written (relative ones from the list's folder).
    """
    from globe.data.image_paths import ImageOutsideRoot, resolve_image_path
    from globe.data.layouts import map_columns

    source = Path(source)
    if source.is_dir():
        return [(path.relative_to(source).as_posix(), path) for path in sorted(source.rglob("*"))
                if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()]
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file or folder (pass an image list CSV, a globe-data convert "
                                "JSONL, a text file or a folder)")
    if _is_jsonl(source):
        return read_jsonl_images(source, image_root)
    root = Path(image_root) if image_root else source.parent
    rows = _csv_rows(source)
    if not rows:
        raise ValueError(f"{source} lists no images")
    columns = map_columns(rows[0])
    if not columns.has("id") and max(len(row) for row in rows) == 1:  # a plain list of paths, no header
        paths = [row[0].strip() for row in rows if not row[0].lstrip().startswith("#")]
        return [(path, source.parent / path) for path in paths if path]
    if not columns.has("id"):
        raise ValueError(f"{source}: header {rows[0][:6]} has no image id column (IMG_ID, id, image...); "
                         f"or pass a text file with one image path per line, or a folder")
    listed = []
    for row in rows[1:]:
        image_id = columns.get(row, "id").strip()
        if not image_id:
            continue
        try:
            listed.append((image_id, resolve_image_path(root, image_id)))
        except ImageOutsideRoot:
            listed.append((image_id, Path(os.devnull)))  # never read: counted unreadable
    return listed


def _is_jsonl(path: Path) -> bool:
    """A ``.jsonl`` file, or any file whose first non-blank character opens a JSON object."""
    if path.suffix.lower() == ".jsonl":
        return True
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def read_jsonl_images(source: Path, image_root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """``(image_id, image path)`` of every row of a ``globe-data convert`` JSONL, in file order.

    A row's image is its first ``images`` entry, relative to ``image_root`` (default: the JSONL's
    folder, as the registered datasets resolve it) unless absolute; a row without one names its
    file by ``image_id`` under that folder. A line that is not a JSON object is an error naming it.
    """
    from globe.runfiles import iter_jsonl_lines

    base = Path(image_root) if image_root else source.parent
    listed = []
    for number, row in iter_jsonl_lines(source, error=ValueError, hint="pass a globe-data convert JSONL"):
        images = row.get("images") or []
        image_id = str(row.get("image_id") or (images[0] if images else "")).strip()
        if not image_id:
            raise ValueError(f"{source}:{number}: a row with neither image_id nor images; is this a globe-data "
                             "convert JSONL?")
        relative = str(images[0]) if images else image_id
        path = Path(relative)
        listed.append((image_id, path if path.is_absolute() else base / path))
    if not listed:
        raise ValueError(f"{source} lists no images")
    return listed


# --------------------------------------------------------------------------- hashing


def hash_image(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(pHash, dHash)`` of one image as 64-bit integers, ``None`` if it is missing, not a regular
    file or cannot be decoded."""
    import warnings

    import imagehash
    from PIL import Image

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.draft("L", DRAFT_SIZE)  # JPEG: decode at 1/2..1/8 scale; other formats: no-op
                grey = image.convert("L")
    except Exception:  # noqa: BLE001 - PIL raises many types for bad files; all mean "unreadable"
        return None
    return _bits(imagehash.phash(grey)), _bits(imagehash.dhash(grey))


def _bits(image_hash) -> int:
    value = 0
    for bit in image_hash.hash.flatten():
        value = (value << 1) | int(bit)
    return value


def hash_images(paths: Sequence[str | os.PathLike], workers: int = 2, progress: bool = False,
                desc: str = "hash", bar=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(phashes, dhashes, ok)`` arrays for ``paths`` (uint64, uint64, bool), in order.

    ``bar``: a tqdm bar to advance (else one is made when ``progress``).
    """
    from tqdm import tqdm

    phashes = np.zeros(len(paths), dtype=np.uint64)
    dhashes = np.zeros(len(paths), dtype=np.uint64)
    ok = np.zeros(len(paths), dtype=bool)
    names = [str(path) for path in paths]
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=len(names), desc=desc, unit="img", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    if workers > 1 and len(names) > 64:
        from multiprocessing import get_context

        with get_context("spawn" if sys.platform == "darwin" else "fork").Pool(workers) as pool:
            results: Iterable = pool.imap(hash_image, names, chunksize=64)
            _collect(results, phashes, dhashes, ok, bar)
    else:
        _collect(map(hash_image, names), phashes, dhashes, ok, bar)
    if own_bar:
        bar.close()
    return phashes, dhashes, ok


#: ``hash_images``' signature: ``(paths, workers=, progress=, desc=, bar=) -> (phashes, dhashes, ok)``; the
#: local process pool (None: :func:`hash_images`), :func:`globe.data.leakage_ray.ray_hasher` for ``--ray``.
Hasher = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


def _collect(results: Iterable, phashes: np.ndarray, dhashes: np.ndarray, ok: np.ndarray, bar) -> None:
    for index, result in enumerate(results):
        if result is not None:
            phashes[index], dhashes[index], ok[index] = result[0], result[1], True
        bar.update(1)


# --------------------------------------------------------------------------- the training index


@dataclass
class TrainIndex:
    """The training images' hashes: ``ids[i]`` (UTF-8 bytes: 4x smaller than numpy's str for
    millions of ids) has ``phashes[i]``/``dhashes[i]`` when ``ok[i]``."""

    ids: np.ndarray
    phashes: np.ndarray
    dhashes: np.ndarray
    ok: np.ndarray
    path: Path
    reused: bool = False

    @property
    def n_unreadable(self) -> int:
        return int((~self.ok).sum())


def index_path(train: str | os.PathLike) -> Path:
    """Where the training hashes are kept, beside the list: ``train.csv`` -> ``train.csv.phash.npz``,
    a folder ``imgs/`` -> ``imgs.phash.npz`` (outside it, so writing it does not change the folder)."""
    train = Path(train).resolve() if str(train) in ("", ".") else Path(train)
    return train.with_name(train.name + ".phash.npz")


def _index_meta(train: Path, image_root: str | os.PathLike | None) -> dict:
    import imagehash

    stat = train.stat()
    return {"version": INDEX_VERSION, "source": str(train.resolve()), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns, "image_root": str(Path(image_root).resolve()) if image_root else None,
            "draft": list(DRAFT_SIZE), "imagehash": imagehash.__version__}


def load_or_build_index(train: str | os.PathLike, image_root: str | os.PathLike | None = None, workers: int = 2,
                        rebuild: bool = False, progress: bool = False, hasher: Hasher | None = None) -> TrainIndex:
    """The training hashes from :func:`index_path` when still valid, else hashed now (by ``hasher``) and saved there."""
    train = Path(train)
    path = index_path(train)
    meta = _index_meta(train, image_root)
    if path.exists() and not rebuild:
        with np.load(path, allow_pickle=False) as stored:
            if json.loads(str(stored["meta"])) == meta:
                return TrainIndex(stored["ids"], stored["phashes"], stored["dhashes"], stored["ok"], path, reused=True)
    listed = read_image_list(train, image_root)
    phashes, dhashes, ok = _hash_in_parts([p for _, p in listed], path, meta, workers, progress, rebuild, hasher)
    ids = np.array([image_id.encode("utf-8") for image_id, _ in listed], dtype=bytes)
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, ids=ids, phashes=phashes, dhashes=dhashes, ok=ok, meta=np.array(json.dumps(meta)))
    os.replace(temporary, path)
    shutil.rmtree(parts_path(path), ignore_errors=True)
    return TrainIndex(ids, phashes, dhashes, ok, path)


#: Training images hashed per saved part: a killed index build resumes from its last whole part.
PART_SIZE = 100_000


def parts_path(index: Path) -> Path:
    """``train.csv.phash.npz`` -> ``train.csv.phash.npz.parts/``: the parts of a build in progress."""
    return index.with_name(index.name + ".parts")


def _hash_in_parts(paths: Sequence[Path], index: Path, meta: dict, workers: int, progress: bool,
                   rebuild: bool, hasher: Hasher | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hash ``paths`` :data:`PART_SIZE` at a time, saving each part, reusing the parts a killed
    build of the same list (same ``meta``) left; ``(phashes, dhashes, ok)``."""
    from tqdm import tqdm

    folder = parts_path(index)
    stamp = folder / "meta.json"
    if folder.exists() and (rebuild or not stamp.exists() or json.loads(stamp.read_text()) != meta):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(meta))
    pieces = []
    with tqdm(total=len(paths), desc="train", unit="img", disable=not progress, file=sys.stderr,
              dynamic_ncols=True) as bar:
        for number, start in enumerate(range(0, len(paths), PART_SIZE)):
            chunk = paths[start:start + PART_SIZE]
            part = folder / f"{number:06d}.npz"
            if part.exists():
                with np.load(part, allow_pickle=False) as saved:
                    pieces.append((saved["phashes"], saved["dhashes"], saved["ok"]))
                bar.update(len(chunk))
                continue
            hashed = (hasher or hash_images)(chunk, workers=workers, bar=bar)
            temporary = folder / f"{number:06d}.tmp.npz"
            np.savez(temporary, phashes=hashed[0], dhashes=hashed[1], ok=hashed[2])
            os.replace(temporary, part)
            pieces.append(hashed)
    if not pieces:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, bool)
    return tuple(np.concatenate([piece[i] for piece in pieces]) for i in range(3))  # type: ignore[return-value]


# --------------------------------------------------------------------------- search


def popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy >= 2's ``bitwise_count``, else a byte table)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return table[values.view(np.uint8)].reshape(*values.shape, 8).sum(axis=-1, dtype=np.uint8)


def brute_force_nearest(hashes: np.ndarray, queries: np.ndarray, batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest of each query among ``hashes``: ``(index, distance)``; ties to the lower index.

    The baseline :class:`HammingIndex` is checked and benchmarked against.
    """
    indices = np.full(len(queries), -1, dtype=np.int64)
    distances = np.full(len(queries), -1, dtype=np.int64)
    if len(hashes) == 0:
        return indices, distances
    for start in range(0, len(queries), batch):
        block = popcount(hashes[None, :] ^ queries[start:start + batch, None])
        best = block.argmin(axis=1)
        indices[start:start + batch] = best
        distances[start:start + batch] = block[np.arange(len(best)), best]
    return indices, distances


class HammingIndex:
    """Exact radius search over 64-bit hashes by multi-index hashing (see the module docstring)."""

    CHUNKS = 4
    CHUNK_BITS = 16

    def __init__(self, hashes: np.ndarray):
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        # Per chunk: the row order sorted by that chunk, bucket starts, and the hashes in that order
        # (so a bucket's hashes are read contiguously, not gathered from all over the array).
        self.tables: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for chunk in range(self.CHUNKS):
            keys = self._chunk(self.hashes, chunk)
            order = np.argsort(keys, kind="stable")
            starts = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=1 << self.CHUNK_BITS))])
            self.tables.append((order, starts, self.hashes[order]))

    @classmethod
    def _chunk(cls, values: np.ndarray, chunk: int) -> np.ndarray:
        return ((values >> np.uint64(cls.CHUNK_BITS * chunk)) & np.uint64(0xFFFF)).astype(np.int64)

    @staticmethod
    def _masks(bits: int) -> np.ndarray:
        """Every 16-bit value with at most ``bits`` bits set."""
        values = np.arange(1 << 16, dtype=np.uint64)
        return values[popcount(values) <= bits].astype(np.int64)

    def nearest(self, queries: np.ndarray, radius: int = SEARCH_RADIUS, batch: int = 256
                ) -> tuple[np.ndarray, np.ndarray]:
        """``(index, distance)`` of each query's nearest hash within ``radius`` bits, ``-1`` where none.

        Exact: the same answer as :func:`brute_force_nearest` wherever that distance is <= ``radius``
        (ties to the lower index).
        """
        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        if radius > MIH_MAX_RADIUS:
            indices, distances = brute_force_nearest(self.hashes, queries)
            far = distances > radius
            indices[far], distances[far] = -1, -1
            return indices, distances
        masks = self._masks(radius // self.CHUNKS)
        indices = np.full(len(queries), -1, dtype=np.int64)
        distances = np.full(len(queries), -1, dtype=np.int64)
        for start in range(0, len(queries), batch):
            block = queries[start:start + batch]
            owners, candidates, found = [], [], []
            for chunk, (order, starts, sorted_hashes) in enumerate(self.tables):
                keys = (self._chunk(block, chunk)[:, None] ^ masks[None, :]).ravel()
                low, counts = starts[keys], starts[keys + 1] - starts[keys]
                total = int(counts.sum())
                if not total:
                    continue
                # Positions of every bucket member, bucket after bucket: one repeat and one arange.
                position = np.arange(total) + np.repeat(low - (np.cumsum(counts) - counts), counts)
                query = np.repeat(np.repeat(block, len(masks)), counts)
                distance = popcount(sorted_hashes[position] ^ query)
                close = np.flatnonzero(distance <= radius)
                owners.append(np.searchsorted(np.cumsum(counts), close, side="right") // len(masks))
                candidates.append(order[position[close]])
                found.append(distance[close].astype(np.int64))
            if not owners:
                continue
            owner, candidate, distance = np.concatenate(owners), np.concatenate(candidates), np.concatenate(found)
            ranked = np.lexsort((candidate, distance, owner))
            owner, first = np.unique(owner[ranked], return_index=True)
            indices[start + owner] = candidate[ranked][first]
            distances[start + owner] = distance[ranked][first]
        return indices, distances


# --------------------------------------------------------------------------- the audit


@dataclass
class LeakageReport:
    n_test: int
    n_leaking: int
    n_test_unreadable: int
    n_train: int
    n_train_unreadable: int
    index_reused: bool
    out: Path
    threshold: int
    phash_threshold: int

    def summary(self) -> str:
        return (f"{self.n_leaking} of {self.n_test} test images leak (a training image within {self.threshold} bits "
                f"of dHash and {self.phash_threshold} of pHash); {self.n_test_unreadable} test images unreadable; "
                f"{self.n_train} training images ({self.n_train_unreadable} unreadable, index "
                f"{'reused' if self.index_reused else 'built'}); wrote {self.out}")


def audit(train: str | os.PathLike, test: str | os.PathLike, out: str | os.PathLike,
          train_images: str | os.PathLike | None = None, test_images: str | os.PathLike | None = None,
          threshold: int = LEAK_THRESHOLD, phash_threshold: int = PHASH_THRESHOLD, radius: int | None = None,
          workers: int = 2, rebuild_index: bool = False, progress: bool = False,
          hasher: Hasher | None = None) -> LeakageReport:
    """Hash (``hasher``: local processes, or a Ray Data job), search and write the pairs CSV (module
    docstring); the counts it prints."""
    radius = max(threshold, SEARCH_RADIUS) if radius is None else radius
    if not 0 <= threshold <= radius <= 64:
        raise ValueError(f"need 0 <= --threshold ({threshold}) <= --radius ({radius}) <= 64")
    index = load_or_build_index(train, train_images, workers=workers, rebuild=rebuild_index, progress=progress,
                                hasher=hasher)
    if len(index.ids) and not index.ok.any():
        raise ValueError(f"none of the {len(index.ids)} training images {train} lists could be read (the first is "
                         f"{index.ids[0].decode('utf-8')!r}); check --train-images, the folder its ids are relative to")
    listed = read_image_list(test, test_images)
    phashes, dhashes, ok = (hasher or hash_images)([p for _, p in listed], workers=workers, progress=progress,
                                                   desc="test")
    readable = np.flatnonzero(index.ok)
    nearest, distance = HammingIndex(index.dhashes[readable]).nearest(dhashes, radius)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n_leaking = 0
    temporary = out.with_name(out.name + ".tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(PAIR_COLUMNS)
        for i, (test_id, _) in enumerate(listed):
            if not ok[i]:
                writer.writerow([test_id, "", "", "", 0, "unreadable"])
                continue
            if nearest[i] < 0:
                writer.writerow([test_id, "", "", "", 0, "ok"])
                continue
            train_row = readable[nearest[i]]
            phash_distance = int(popcount(np.array([index.phashes[train_row] ^ phashes[i]], dtype=np.uint64))[0])
            leak = int(distance[i] <= threshold and phash_distance <= phash_threshold)
            n_leaking += leak
            writer.writerow([test_id, index.ids[train_row].decode("utf-8"), int(distance[i]), phash_distance, leak,
                             "ok"])
    os.replace(temporary, out)
    return LeakageReport(n_test=len(listed), n_leaking=n_leaking, n_test_unreadable=int((~ok).sum()),
                         n_train=len(index.ids), n_train_unreadable=index.n_unreadable, index_reused=index.reused,
                         out=out, threshold=threshold, phash_threshold=phash_threshold)


def read_excluded_ids(path: str | os.PathLike) -> list[str]:
    """Image ids to leave out of an evaluation (``globe-eval --exclude``), in file order.

    A pairs CSV (a ``test_id`` column): its leaking rows (``leak`` 1/true/yes; every row when it
    has no ``leak`` column). A CSV with an image id column (``IMG_ID``, ``id``...): that column.
    Otherwise one id per line (blank lines and ``#`` comments skipped).
    """
    from globe.data.layouts import map_columns

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--exclude {path}: no such file (a globe-data leakage pairs CSV or a list of ids)")
    rows = _csv_rows(path)
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    if "test_id" in header:
        column = header.index("test_id")
        leak = header.index("leak") if "leak" in header else None
        return [row[column].strip() for row in rows[1:] if len(row) > column and row[column].strip()
                and (leak is None or (len(row) > leak and row[leak].strip().lower() in ("1", "true", "yes")))]
    columns = map_columns(rows[0])
    if columns.has("id"):
        return [columns.get(row, "id").strip() for row in rows[1:] if columns.get(row, "id").strip()]
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]
