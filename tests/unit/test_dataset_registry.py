"""Every registered GLOBE dataset loads through ms-swift's own ``load_dataset`` from local files in the
released layouts, and yields exactly the rows and columns the rewards and the evaluator consume."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from globe.catalog import find_dataset, id_image_folder
from globe.data.convert import ConvertOptions, convert
from globe.data.sample import write_raw_files
from globe.prompts import LOCATABILITY_SYSTEM_PROMPT, geo_prompt
from globe.eval.data import load_ground_truth
from globe.rewards import accuracy_rewards, distance_rewards, visual_match_rewards

from distributed_sets import PLACES, im2gps, osv5m_test, yfcc4k_info_txt, yfcc4k_places365  # tests/unit is on sys.path

swift_dataset = pytest.importorskip("swift.dataset", reason="ms-swift is not installed")

NAMES = ["mp16-reason-train", "mp16-reason-sft", "mp16-reason-rm", "mp16-reason-test-12k", "im2gps3k",
         "osv5m-test-mini-3k"]
ENV_VARS = ["GLOBE_DATA_ROOT", "GLOBE_MP16_TRAIN", "GLOBE_MP16_SFT", "GLOBE_MP16_RM", "GLOBE_MP16_TEST",
            "GLOBE_IM2GPS3K", "GLOBE_OSV5M_MINI", "GLOBE_MP16_TRAIN_IMAGES", "GLOBE_MP16_TEST_IMAGES",
            "GLOBE_YFCC4K", "GLOBE_OSV5M_TEST", "GLOBE_IM2GPS"]
REWARD_COLUMNS = {"messages", "images", "image_id", "solution", "country", "city", "lat", "lon", "entities", "dataset"}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Released-layout CSVs and image folders, converted by globe-data into the standard JSONL names."""
    root = tmp_path_factory.mktemp("data")
    for name, (csv_path, images, layout) in write_raw_files(root).items():
        options = ConvertOptions(layout=layout, image_root=images, progress=False, workers=1,
                                 dedupe_by="id+reasoning" if "rm" in name else "id")
        report = convert(csv_path, root / name, options)
        assert report.total_dropped == 0, report.summary()
    return root


@pytest.fixture()
def registry(data_root: Path, monkeypatch: pytest.MonkeyPatch):
    """globe.dataset registered against ``data_root`` only (no stray GLOBE_* variables)."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GLOBE_DATA_ROOT", str(data_root))
    import globe.dataset as registry

    registry.register_globe_datasets()
    yield registry
    for var in ENV_VARS:
        os.environ.pop(var, None)
    registry.register_globe_datasets()


def load(name: str, remove_unused_columns: bool = False):
    train, val = swift_dataset.load_dataset(name, remove_unused_columns=remove_unused_columns)
    assert val is None
    return train


def test_every_name_is_registered_at_its_standard_file(registry, data_root: Path) -> None:
    files = {"mp16-reason-train": "mp16-reason-train.jsonl", "mp16-reason-sft": "mp16-reason-train.jsonl",
             "mp16-reason-rm": "mp16-reason-rm.jsonl", "mp16-reason-test-12k": "mp16-reason-test-12k.jsonl",
             "im2gps3k": "im2gps3k.jsonl", "osv5m-test-mini-3k": "osv5m-test-mini-3k.jsonl"}
    for name in NAMES:
        meta = swift_dataset.DATASET_MAPPING[name]
        assert meta.dataset_path == str(data_root.resolve() / files[name])


def test_the_released_names_load_the_same_rows(registry, data_root: Path) -> None:
    assert swift_dataset.DATASET_MAPPING["geo_loc_rm_20w"].dataset_path == str(data_root.resolve() / "mp16-reason-rm.jsonl")
    assert load("geo_loc_rm_20w").to_list() == load("mp16-reason-rm").to_list()
    assert load("data/geo_loc_rm_20w").to_list() == load("mp16-reason-rm").to_list()  # train_rm.sh's spelling
    assert load("data/mp16-reason-train").to_list() == load("mp16-reason-sft").to_list()  # the SFT and GRPO scripts'
    assert load("img2gps3k")["image_id"] == load("im2gps3k")["image_id"]
    assert len(load("osv-test-mini-3k")) == 5


def test_grpo_rows_keep_every_column_the_rewards_read(registry, data_root: Path) -> None:
    rows = load("mp16-reason-train")
    assert len(rows) == 28
    assert set(rows.column_names) == REWARD_COLUMNS
    first = rows[0]
    assert first["messages"] == [{"role": "user", "content": "<image>" + geo_prompt(True)}]
    assert first["images"] == [{"bytes": None, "path": str(data_root / "train_images" / first["image_id"])}]
    assert (first["country"], first["city"], first["solution"]) == ("France", "Paris", "France\tParis")
    assert (first["lat"], first["lon"]) == (48.8566, 2.3522)
    assert first["entities"] == [{"text": "Eiffel Tower"}, {"text": "Haussmann facades"}]
    by_city = {row["city"]: row for row in rows}
    assert by_city["New York City"]["solution"] == "United States\tNew York City"  # "USA" in the CSV
    assert by_city["Prague"]["country"] == "Czechia"  # "Czech Republic" in the CSV
    assert by_city["Lima"]["entities"] == []
    assert all(row["solution"] == f"{row['country']}\t{row['city']}" for row in rows)


def test_grpo_columns_feed_the_reward_functions_as_ms_swift_passes_them(registry) -> None:
    rows = load("mp16-reason-train")[:3]  # a batch: column name -> list, as GRPO hands them over
    completions = [
        "<think>A lattice tower.</think><answer>country: France\ncity: Paris</answer>",
        "<think>Neon kanji signs.</think><answer>country: Japan\ncity: Osaka</answer>",
        "<think>Nothing.</think><answer>country: Peru\ncity: Lima</answer>",
    ]
    columns = {k: v for k, v in rows.items() if k not in ("messages", "images")}
    assert [row for row in zip(columns["country"], columns["city"])] == [
        ("France", "Paris"), ("Japan", "Tokyo"), ("United States", "New York City")]
    assert accuracy_rewards(completions, **columns) == [1.0, 0.2, 0.0]
    assert visual_match_rewards(completions, **columns) == [0.0, 0.0, 0.0]
    distances = distance_rewards(completions, **columns)
    assert distances[0] > 0.9 and distances[2] < 0.01


def test_sft_rows_end_with_the_reasoned_answer_and_drop_extra_columns_by_default(registry) -> None:
    rows = load("mp16-reason-sft", remove_unused_columns=True)
    assert len(rows) == 28
    assert set(rows.column_names) == {"messages", "images", "dataset"}
    user, assistant = rows[0]["messages"]
    assert user == {"role": "user", "content": "<image>" + geo_prompt(True)}
    assert assistant["role"] == "assistant"
    assert assistant["content"].startswith("<think>The image shows a wrought-iron lattice tower")
    assert assistant["content"].endswith("</think><answer>country: France\ncity: Paris</answer>")


def test_rm_rows_ask_for_yes_or_no(registry) -> None:
    rows = load("mp16-reason-rm")
    assert len(rows) == 14
    labels = [row["messages"][-1]["content"] for row in rows]
    assert sorted(set(labels)) == ["no", "yes"]
    system, user, assistant = rows[0]["messages"]
    assert system == {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT}
    assert user["content"].startswith("<image>The image shows a wrought-iron lattice tower")
    assert assistant == {"role": "assistant", "content": "yes"}
    assert rows[0]["images"][0]["path"].endswith(".jpg")


@pytest.mark.parametrize(
    ("name", "count", "first"),
    [
        ("mp16-reason-test-12k", 8, ("Netherlands", "Amsterdam", 52.3676, 4.9041)),
        ("im2gps3k", 5, ("Italy", "Venice", 45.4408, 12.3155)),  # reverse geocoded: IM2GPS3K has no names
        ("osv5m-test-mini-3k", 5, ("Finland", "Helsinki", 60.1699, 24.9384)),  # "FI" in the CSV
    ],
)
def test_test_sets_carry_the_prompt_and_ground_truth(registry, name: str, count: int, first: tuple) -> None:
    rows = load(name)
    assert len(rows) == count
    assert set(rows.column_names) == REWARD_COLUMNS
    row = rows[0]
    assert row["messages"] == [{"role": "user", "content": "<image>" + geo_prompt(True)}]
    assert (row["country"], row["city"], row["lat"], row["lon"]) == first
    assert os.path.isfile(row["images"][0]["path"])


def test_dataset_sampling_syntax_works_on_a_registered_name(registry) -> None:
    assert len(load("mp16-reason-train#5")) == 5


def test_an_env_var_points_a_name_at_a_released_csv_read_as_is(registry, data_root: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOBE_MP16_TRAIN", str(data_root / "mp16-reason-train.csv"))
    registry.register_globe_datasets()
    rows = load("mp16-reason-train")
    assert len(rows) == 28
    paris = rows[0]
    assert paris["images"][0]["path"] == str(data_root / "train_images" / paris["image_id"])
    # Read raw: the solution tags give the answer; country names stay as the CSV spells them.
    assert (paris["country"], paris["city"], paris["lat"]) == ("France", "Paris", 48.8566)
    assert paris["entities"] == [{"text": "Eiffel Tower"}, {"text": "Haussmann facades"}]
    assert {row["country"] for row in rows} >= {"USA", "Czech Republic"}


def test_a_missing_file_says_how_to_make_it(registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLOBE_IM2GPS3K", str(tmp_path / "nowhere" / "im2gps3k.jsonl"))
    registry.register_globe_datasets()
    with pytest.raises(FileNotFoundError, match=r"dataset 'im2gps3k': no file at .*globe-data convert.*GLOBE_IM2GPS3K"):
        load("im2gps3k")


def test_sft_targets_follow_model_family_and_enable_thinking(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    def targets() -> list[str]:
        registry.register_globe_datasets()
        rows = load("mp16-reason-sft", remove_unused_columns=True)
        return [rows[i]["messages"][-1]["content"] for i in range(len(rows))]

    monkeypatch.setenv("MODEL_FAMILY", "qwen3_5")
    assert all(t.startswith("<think>\n\n</think>\n\n<think>") for t in targets())
    monkeypatch.setenv("ENABLE_THINKING", "true")
    assert all(t.startswith("<think>\n") and t.count("<think>") == 1 for t in targets())
    monkeypatch.delenv("MODEL_FAMILY")
    monkeypatch.delenv("ENABLE_THINKING")
    assert all(t.startswith("<think>") and "</think>\n" not in t for t in targets())


@pytest.mark.parametrize(
    ("name", "variable", "write", "file", "layout"),
    [
        ("yfcc4k", "GLOBE_YFCC4K", yfcc4k_places365, "yfcc4k_places365.csv", "yfcc4k"),
        ("yfcc4k", "GLOBE_YFCC4K", yfcc4k_info_txt, "yfcc4k/info.txt", "yfcc100m-info"),  # headerless, tab-separated
        ("osv5m-test", "GLOBE_OSV5M_TEST", osv5m_test, "osv5m/test.csv", "osv5m"),  # ISO codes, one empty city
        ("im2gps", "GLOBE_IM2GPS", im2gps, "im2gps_places365.csv", "im2gps"),  # files named by more than the id
    ],
)
def test_a_distributed_test_file_named_by_its_variable_is_read_through_its_layout_as_globe_eval_reads_it(
        registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name, variable, write, file, layout) -> None:
    ids = write(tmp_path)
    monkeypatch.setenv(variable, str(tmp_path / file))
    registry.register_globe_datasets()
    rows = load(name)
    assert set(rows.column_names) == REWARD_COLUMNS
    assert rows["image_id"] == ids
    assert [(row["country"], row["city"]) for row in rows] == [(country, city) for _, country, city, _, _ in PLACES]
    images = id_image_folder(find_dataset(name), tmp_path / file, variable)
    truth = load_ground_truth(tmp_path / file, images, layout=layout).rows
    assert [(row["image_id"], row["country"], row["city"], row["lat"], row["lon"], row["images"][0]["path"])
            for row in rows] == [(gt.image_id, gt.country, gt.city, gt.lat, gt.lon, str(images / name_))
                                 for gt in truth for name_ in [gt_file_name(images, gt.image_id, layout)]]


def gt_file_name(images: Path, image_id: str, layout: str) -> str:
    """The file globe-eval resolves an id to, relative to the image folder."""
    from globe.data.image_paths import resolve_image_path
    from globe.data.layouts import get_layout

    spec = get_layout(layout)
    return str(resolve_image_path(images, image_id, spec.image_names, spec.file_id).relative_to(images))


def test_without_a_converted_file_a_name_reads_the_distributed_file_under_the_data_root(
        registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = osv5m_test(tmp_path)
    monkeypatch.setenv("GLOBE_DATA_ROOT", str(tmp_path))
    registry.register_globe_datasets()
    assert swift_dataset.DATASET_MAPPING["osv5m-test"].dataset_path == str(tmp_path.resolve() / "osv5m" / "test.csv")
    rows = load("osv5m-test")
    assert rows["image_id"] == ids and rows[0]["country"] == "France"
    # Once converted, the JSONL is what the name reads.
    (tmp_path / "osv5m-test.jsonl").write_text("")
    registry.register_globe_datasets()
    assert swift_dataset.DATASET_MAPPING["osv5m-test"].dataset_path == str(tmp_path.resolve() / "osv5m-test.jsonl")
