"""globe-distill with real ms-swift: a `swift deploy`ed teacher, and training on the rows it writes.

Two swift runs only: the session's shared `swift deploy` of the tiny model (whose answers are
noise, so every row must be filtered out, and the report must say why), and two `swift sft`
steps through ``train_sft.sh`` on rows distilled from a scripted loopback teacher, read through
the registered dataset name ``mp16-reason-sft`` (so the layout contract with globe/dataset.py
is what is tested, not a copy of it).
"""
from __future__ import annotations

import json
import math
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from globe import REPO_ROOT
from globe.distill.cli import main
from globe.distill.filters import DROP_REASONS
from globe.distill.teacher import parse_teacher_answer
from globe.swift_run import TINY_MODEL_ARGS, free_port, offline_env
from tests.support.fake_openai import FakeOpenAIServer, answer_by_marker, marked_jpeg

pytestmark = pytest.mark.integration

TRAIN_SFT = REPO_ROOT / "examples" / "train" / "grpo" / "globe" / "train_sft.sh"
PLACES = {
    "PAR": ("France", "Paris", 48.8566, 2.3522, ["Eiffel Tower", "Haussmann facades"]),
    "TYO": ("Japan", "Tokyo", 35.6762, 139.6503, ["kanji signage", "Tokyo Tower"]),
    "RIO": ("Brazil", "Rio de Janeiro", -22.9068, -43.1729, ["Sugarloaf Mountain", "Copacabana promenade"]),
    "NBO": ("Kenya", "Nairobi", -1.2921, 36.8219, ["matatu minibus", "acacia tree"]),
}


def write_world(root: Path) -> Path:
    """Images carrying their id and a plain ``IMG_ID,LAT,LON,city,country`` ground-truth CSV."""
    (root / "images").mkdir(parents=True)
    lines = ["IMG_ID,LAT,LON,city,country"]
    for image_id, (country, city, lat, lon, _) in PLACES.items():
        (root / "images" / f"{image_id}.jpg").write_bytes(marked_jpeg(f"<{image_id}>", size=(64, 64)))
        lines.append(f"{image_id},{lat},{lon},{city},{country}")
    (root / "gt.csv").write_text("\n".join(lines) + "\n")
    return root / "gt.csv"


def test_noise_from_a_deployed_tiny_model_is_all_filtered_out_and_the_report_says_why(
    deployed_tiny_model: str, tmp_path: Path
) -> None:
    gt = write_world(tmp_path)
    out = tmp_path / "out"
    code = main(["--gt-file", str(gt), "--image-root", str(tmp_path / "images"), "--out-dir", str(out),
                 "--teacher", f"{deployed_tiny_model}=globe-tiny", "--max-tokens", "32", "--concurrency", "2",
                 "--timeout", "300", "--no-progress"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    n = len(PLACES)
    assert (report["rows_in"], report["rows_processed"], report["rows_kept"], report["rows_failed"]) == (n, n, 0, 0)
    assert report["rows_dropped"] == n
    assert sum(report["dropped_by_reason"].values()) == n
    assert set(report["dropped_by_reason"]) <= set(DROP_REASONS)
    assert set(report["reasons"]) == set(report["dropped_by_reason"])  # each reason explained in words
    # Each count is traceable: the ledger keeps every raw answer, and re-reading it gives the same reason.
    ledger = [json.loads(line) for line in (out / "distill" / "ledger.jsonl").read_text().splitlines()]
    assert Counter(entry["reason"] for entry in ledger) == report["dropped_by_reason"]
    for entry in ledger:
        if entry["stage"] == "answer":
            assert parse_teacher_answer(entry["teachers"][0]["text"]).failure == entry["reason"]
    teacher = report["teachers"][0]
    assert teacher["name"] == f"globe-tiny @ {deployed_tiny_model}"
    assert teacher["answered"] == n and teacher["tokens"]["completion_tokens"] > 0
    assert (out / "train.jsonl").read_text() == ""


def test_distilled_rows_train_two_sft_steps_through_train_sft_sh(tiny_model: str, tmp_path: Path) -> None:
    gt = write_world(tmp_path)
    answers = {
        f"<{image_id}>": json.dumps({
            "locatable": "yes", "confidence": 0.9, "entities": entities, "country": country, "city": city,
            "reasoning": f"The {entities[0]} and the {entities[1]} point to {city}, {country}.",
        })
        for image_id, (country, city, _, _, entities) in PLACES.items()
    }
    out = tmp_path / "distilled"
    with FakeOpenAIServer(responder=answer_by_marker(answers, "no idea")) as server:
        assert main(["--gt-file", str(gt), "--image-root", str(tmp_path / "images"), "--out-dir", str(out),
                     "--teacher", server.url, "--no-progress"]) == 0
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert sorted(row["image_id"] for row in rows) == sorted(PLACES)

    output = tmp_path / "sft"
    knobs = {
        "MODEL": tiny_model, "MODEL_TYPE": "qwen2_5_vl", "TORCH_DTYPE": "float32", "DEEPSPEED": "none",
        "NPROC_PER_NODE": "1", "MASTER_PORT": str(free_port()), "MAX_STEPS": "2", "BATCH_SIZE": "2",
        "GRAD_ACCUM": "1", "SAVE_STEPS": "2", "GRADIENT_CHECKPOINTING": "false", "TUNER_TYPE": "lora",
        "DATASET": "mp16-reason-sft", "GLOBE_MP16_SFT": str(out / "train.jsonl"),
        "OUTPUT_DIR": str(output), "EXTRA_ARGS": " ".join(TINY_MODEL_ARGS),
    }
    proc = subprocess.run(["bash", str(TRAIN_SFT)], env=offline_env(knobs), cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, "\n".join(proc.stdout.splitlines()[-60:])
    (run_dir,) = [path for path in output.iterdir() if path.is_dir()]
    logs = [json.loads(line) for line in (run_dir / "logging.jsonl").read_text().splitlines()]
    losses = [float(entry["loss"]) for entry in logs if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses), logs
    assert (run_dir / "checkpoint-2" / "adapter_model.safetensors").exists()
