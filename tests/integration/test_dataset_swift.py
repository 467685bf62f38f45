"""The registered dataset names inside real ``swift sft`` and ``swift rlhf --rlhf_type grpo`` runs.

The data starts in the released on-disk layout (CSV + image folders), goes through the real
``globe-data convert`` command, and reaches ms-swift only by name through
``--external_plugins globe/dataset.py``. The GRPO run adds a probe reward that records the
keyword arguments ms-swift hands to reward functions, proving the ground-truth columns arrive.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from globe.data.sample import write_raw_files
from globe import REPO_ROOT
from globe.swift_run import TINY_MODEL_ARGS, run_swift

pytestmark = pytest.mark.integration

DATASET_PLUGIN = REPO_ROOT / "globe" / "dataset.py"
PLUGIN_FILE = REPO_ROOT / "globe" / "plugin.py"
REWARD_COLUMNS = ("image_id", "solution", "country", "city", "lat", "lon", "entities")

PROBE_PLUGIN = '''
import json, os
from swift.rewards import ORM, orms

class RecordColumns(ORM):
    """Writes the dataset columns each completion arrives with; rewards nothing."""
    def __call__(self, completions, **kwargs):
        with open(os.environ["GLOBE_PROBE_OUT"], "a") as f:
            for i in range(len(completions)):
                f.write(json.dumps({k: kwargs[k][i] for k in %r if k in kwargs}) + "\\n")
        return [0.0] * len(completions)

orms["globe_probe"] = RecordColumns
''' % (REWARD_COLUMNS,)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Released-layout files converted with the real CLI into the standard data-root names."""
    root = tmp_path_factory.mktemp("data")
    sources = write_raw_files(root)
    for name in ("mp16-reason-train.jsonl",):
        csv_path, images, layout = sources[name]
        subprocess.run(
            [sys.executable, "-m", "globe.data", "convert", "--csv", str(csv_path), "--image-root", str(images),
             "--layout", layout, "--out", str(root / name), "--no-progress"],
            check=True, capture_output=True, text=True, timeout=300,
        )
    return root


def _losses(output: Path) -> list[float]:
    (run_dir,) = [p for p in output.iterdir() if p.is_dir()]
    logs = [json.loads(line) for line in (run_dir / "logging.jsonl").read_text().splitlines()]
    return [float(entry["loss"]) for entry in logs if "loss" in entry]


def test_swift_sft_trains_on_mp16_reason_sft_by_name(tiny_model: str, data_root: Path, tmp_path: Path) -> None:
    output = tmp_path / "sft"
    proc = run_swift(
        ["sft", "--model", tiny_model, *TINY_MODEL_ARGS, "--external_plugins", DATASET_PLUGIN,
         "--dataset", "mp16-reason-sft", "--tuner_type", "lora", "--max_steps", "2",
         "--per_device_train_batch_size", "2", "--max_length", "1024", "--save_steps", "2", "--logging_steps", "1",
         "--output_dir", output],
        env={"GLOBE_DATA_ROOT": str(data_root)},
        timeout=600,
        log_path=tmp_path / "sft.log",
    )
    # ms-swift read the 28 converted rows by name and trains on the reasoned answer (its label log).
    assert "num_rows: 28" in proc.stdout
    assert "[LABELS] [-100 * " in proc.stdout
    assert "</think><answer>country: France\ncity: Paris</answer>" in proc.stdout
    (run_dir,) = [p for p in output.iterdir() if p.is_dir()]
    assert (run_dir / "checkpoint-2" / "adapter_model.safetensors").exists()
    losses = _losses(output)
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)


def test_swift_grpo_on_mp16_reason_train_hands_ground_truth_to_rewards(tiny_model: str, data_root: Path,
                                                                       tmp_path: Path) -> None:
    probe = tmp_path / "probe_plugin.py"
    probe.write_text(PROBE_PLUGIN)
    recorded = tmp_path / "columns.jsonl"
    output = tmp_path / "grpo"
    run_swift(
        ["rlhf", "--rlhf_type", "grpo", "--model", tiny_model, *TINY_MODEL_ARGS,
         "--external_plugins", DATASET_PLUGIN, PLUGIN_FILE, probe,
         "--dataset", "mp16-reason-train", "--reward_funcs", "globe_accuracy", "globe_probe",
         "--tuner_type", "lora", "--use_vllm", "false", "--max_steps", "2", "--per_device_train_batch_size", "2",
         "--num_generations", "2", "--max_completion_length", "16", "--beta", "0", "--logging_steps", "1",
         "--gradient_checkpointing", "false", "--save_strategy", "no", "--output_dir", output],
        env={"GLOBE_DATA_ROOT": str(data_root), "GLOBE_PROBE_OUT": str(recorded)},
        timeout=600,
    )
    rows = [json.loads(line) for line in recorded.read_text().splitlines()]
    assert len(rows) == 4  # 2 steps x batch of 2 completions
    expected = {row["image_id"]: row for row in map(json.loads, (data_root / "mp16-reason-train.jsonl")
                                                    .read_text().splitlines())}
    for row in rows:
        assert set(row) == set(REWARD_COLUMNS)
        truth = expected[row["image_id"]]
        assert {k: row[k] for k in REWARD_COLUMNS} == {k: truth[k] for k in REWARD_COLUMNS}
        assert row["solution"] == f"{row['country']}\t{row['city']}"
    (run_dir,) = [p for p in output.iterdir() if p.is_dir()]
    logs = [json.loads(line) for line in (run_dir / "logging.jsonl").read_text().splitlines()]
    assert any("rewards/GlobeAccuracy/mean" in entry for entry in logs)
