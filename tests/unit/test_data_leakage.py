"""The train/test leakage audit (globe.data.leakage, ``globe-data leakage``) on generated photos."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from globe.data.cli import main as data_main
from globe.data.leakage import (
    PAIR_COLUMNS, HammingIndex, audit, brute_force_nearest, hash_image, index_path, popcount, read_excluded_ids,
    read_image_list,
)
from tests.support.photos import NEAR_COPY_KINDS, near_copy, photo_like, write_photos


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """40 training photos; a test set of 3 planted copies of each kind and 12 unrelated photos."""
    root = tmp_path_factory.mktemp("leak")
    train = write_photos(root / "train", range(40), size=(320, 240))
    with open(root / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["IMG_ID", "LAT", "LON"])
        writer.writerows([[path.name, 0, 0] for path in train])
    test_dir = root / "test"
    expected = {}
    for k, kind in enumerate(NEAR_COPY_KINDS):
        for j in range(3):
            seed = 5 * k + j
            name = f"{kind}{j}.jpg"
            (test_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (test_dir / name).write_bytes(near_copy(photo_like(seed, (320, 240)), kind))
            expected[name] = f"p{seed:06d}.jpg"
    write_photos(test_dir, range(1000, 1012), prefix="new", size=(320, 240))
    (test_dir / "broken.jpg").write_bytes(b"\xff\xd8not a jpeg")
    return root, expected


def _pairs(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_planted_copies_are_found_and_nothing_else(planted, tmp_path):
    root, expected = planted
    report = audit(root / "train.csv", root / "test", tmp_path / "pairs.csv", root / "train", workers=1)
    rows = _pairs(tmp_path / "pairs.csv")
    assert list(rows[0]) == PAIR_COLUMNS and len(rows) == 9 + 12 + 1
    leaking = {row["test_id"]: row["train_id"] for row in rows if row["leak"] == "1"}
    assert leaking == expected
    assert (report.n_test, report.n_leaking, report.n_test_unreadable, report.n_train) == (22, 9, 1, 40)
    broken = next(row for row in rows if row["test_id"] == "broken.jpg")
    assert (broken["status"], broken["leak"], broken["train_id"]) == ("unreadable", "0", "")
    for row in rows:
        if row["test_id"].startswith(("resized", "recompressed")):
            assert int(row["distance"]) <= 2 and int(row["phash_distance"]) <= 2


def test_the_training_index_is_kept_beside_the_list_and_reused(planted, tmp_path):
    root, _ = planted
    first = audit(root / "train.csv", root / "test", tmp_path / "a.csv", root / "train", workers=1,
                  rebuild_index=True)
    second = audit(root / "train.csv", root / "test", tmp_path / "b.csv", root / "train", workers=2)
    assert index_path(root / "train.csv").is_file()
    assert (first.index_reused, second.index_reused) == (False, True)
    assert _pairs(tmp_path / "a.csv") == _pairs(tmp_path / "b.csv")


def test_cli_prints_how_many_test_images_leak(planted, tmp_path, capsys):
    root, _ = planted
    assert data_main(["leakage", "--train", str(root / "train.csv"), "--test", str(root / "test"),
                      "--train-images", str(root / "train"), "--out", str(tmp_path / "pairs.csv"), "--no-progress",
                      "--workers", "1"]) == 0
    assert "9 of 22 test images leak" in capsys.readouterr().out
    assert read_excluded_ids(tmp_path / "pairs.csv") == sorted(f"{kind}{j}.jpg" for kind in NEAR_COPY_KINDS
                                                               for j in range(3))


def test_hashes_ignore_resizing_and_recompression(tmp_path):
    from tests.support.photos import jpeg

    image = photo_like(7)
    (tmp_path / "original.jpg").write_bytes(jpeg(image))
    original = np.array(hash_image(tmp_path / "original.jpg"), dtype=np.uint64)
    for kind in ("resized", "recompressed"):
        (tmp_path / f"{kind}.jpg").write_bytes(near_copy(image, kind))
        copy = np.array(hash_image(tmp_path / f"{kind}.jpg"), dtype=np.uint64)
        assert popcount(original ^ copy).max() <= 2  # both hashes


def test_multi_index_search_is_exact_against_brute_force():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 2**63, 20_000, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, 20_000, dtype=np.uint64)
    flips = [0, 1, 3, 7, 9, 11, 12, 20]
    queries = []
    for i, bits in enumerate(flips * 5):
        value = int(train[i * 37])
        for bit in rng.choice(64, bits, replace=False):
            value ^= 1 << int(bit)
        queries.append(value)
    queries = np.array(queries + list(rng.integers(0, 2**63, 60, dtype=np.uint64)), dtype=np.uint64)
    exact_index, exact_distance = brute_force_nearest(train, queries)
    index, distance = HammingIndex(train).nearest(queries, radius=11)
    within = exact_distance <= 11
    assert within.sum() >= 30 and np.array_equal(distance[within], exact_distance[within])
    assert np.array_equal(index[within], exact_index[within])
    assert (index[~within] == -1).all() and (distance[~within] == -1).all()
    wide_index, wide_distance = HammingIndex(train).nearest(queries, radius=64)  # brute force path
    assert np.array_equal(wide_distance, exact_distance) and np.array_equal(wide_index, exact_index)


def test_ties_go_to_the_earlier_training_row():
    train = np.array([0b1000, 0b0001, 0b0000_0011], dtype=np.uint64)
    index, distance = HammingIndex(train).nearest(np.array([0], dtype=np.uint64), radius=3)
    assert (index[0], distance[0]) == (0, 1)


def test_a_training_list_whose_images_are_all_missing_is_an_error(planted, tmp_path):
    root, _ = planted
    with pytest.raises(ValueError, match="check --train-images"):
        audit(root / "train.csv", root / "test", tmp_path / "pairs.csv", root / "nowhere", workers=1)


def test_image_lists_read_csv_ids_text_lists_and_folders(planted, tmp_path):
    root, _ = planted
    from_csv = read_image_list(root / "train.csv", root / "train")
    assert from_csv[0] == ("p000000.jpg", root / "train" / "p000000.jpg") and len(from_csv) == 40
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two images\n{root / 'train' / 'p000001.jpg'}\n\n{root / 'train' / 'p000002.jpg'}\n")
    assert [path for _, path in read_image_list(listing)] == [root / "train" / "p000001.jpg",
                                                              root / "train" / "p000002.jpg"]
    assert read_image_list(root / "test")[0][0] == "broken.jpg"
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no image id column"):
        read_image_list(bad)


def test_excluded_ids_from_a_pairs_csv_an_id_csv_or_a_list(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("test_id,train_id,distance,phash_distance,leak,status\na.jpg,x.jpg,1,0,1,ok\n"
                     "b.jpg,y.jpg,11,20,0,ok\nc.jpg,,,,0,unreadable\n")
    assert read_excluded_ids(pairs) == ["a.jpg"]
    ids = tmp_path / "ids.csv"
    ids.write_text("IMG_ID,note\nq.jpg,dup\nr.jpg,dup\n")
    assert read_excluded_ids(ids) == ["q.jpg", "r.jpg"]
    listing = tmp_path / "ids.txt"
    listing.write_text("# leaking\ns.jpg\n\nt.jpg\n")
    assert read_excluded_ids(listing) == ["s.jpg", "t.jpg"]


def test_non_ascii_training_ids_round_trip_through_the_index(tmp_path):
    write_photos(tmp_path / "train", [3])
    (tmp_path / "train" / "p000003.jpg").rename(tmp_path / "train" / "Zürich 3.jpg")
    test = tmp_path / "test"
    test.mkdir()
    (test / "copy.jpg").write_bytes(near_copy(photo_like(3), "recompressed"))
    reused = []
    for _ in range(2):  # built, then read back from the index file beside the folder
        reused.append(audit(tmp_path / "train", test, tmp_path / "pairs.csv", workers=1).index_reused)
        assert _pairs(tmp_path / "pairs.csv")[0]["train_id"] == "Zürich 3.jpg"
    assert reused == [False, True] and (tmp_path / "train.phash.npz").is_file()


def test_an_id_leaving_the_image_folder_is_never_read(tmp_path):
    write_photos(tmp_path / "train", [1])
    (tmp_path / "secret.jpg").write_bytes(near_copy(photo_like(1), "recompressed"))
    listing = tmp_path / "train.csv"
    listing.write_text("IMG_ID\np000001.jpg\n../secret.jpg\n")
    listed = dict(read_image_list(listing, tmp_path / "train"))
    assert listed["p000001.jpg"] == tmp_path / "train" / "p000001.jpg"
    assert hash_image(listed["../secret.jpg"]) is None


def test_a_fifo_or_missing_file_is_unreadable_without_blocking(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.jpg")
    assert hash_image(tmp_path / "pipe.jpg") is None
    assert hash_image(tmp_path / "absent.jpg") is None


def test_a_killed_index_build_resumes_from_its_saved_parts(tmp_path, monkeypatch):
    import globe.data.leakage as leakage

    write_photos(tmp_path / "train", range(7), size=(64, 48))
    monkeypatch.setattr(leakage, "PART_SIZE", 2)
    real = leakage.hash_images
    hashed: list[int] = []

    def dying(paths, **kwargs):
        if len(hashed) == 4:
            raise KeyboardInterrupt
        hashed.extend(range(len(paths)))
        return real(paths, **kwargs)

    monkeypatch.setattr(leakage, "hash_images", dying)
    with pytest.raises(KeyboardInterrupt):
        leakage.load_or_build_index(tmp_path / "train", workers=1)
    assert len(list(leakage.parts_path(index_path(tmp_path / "train")).glob("0*.npz"))) == 2
    hashed.clear()
    monkeypatch.setattr(leakage, "hash_images", lambda paths, **kwargs: (hashed.extend(paths), real(paths, **kwargs))[1])
    index = leakage.load_or_build_index(tmp_path / "train", workers=1)
    assert len(hashed) == 3 and index.ok.all() and len(index.ids) == 7  # parts 0-1 reused, 2-3 hashed
    assert not leakage.parts_path(index.path).exists()
    fresh = leakage.load_or_build_index(tmp_path / "train", workers=1, rebuild=True)
    assert np.array_equal(fresh.dhashes, index.dhashes) and np.array_equal(fresh.phashes, index.phashes)
