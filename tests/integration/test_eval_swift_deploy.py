"""globe-eval, globe-infer and the chat client against a real `swift deploy` of the tiny model.

The tiny model is random, so its answers are nonsense: these tests prove the wire format
(multimodal data URLs, model discovery, streaming, logprobs) and that every row completes with
a model answer, not that the answers are right.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from globe.chat_client import ChatClient, user_message
from globe.eval.cli import main
from globe.eval.infer import main as infer_main
from globe.eval.runner import read_output_rows
from globe.scoring import ANSWERED_STATUSES
from tests.support.images import jpeg_bytes
from tests.support.fake_openai import write_scripted_eval_set

pytestmark = pytest.mark.integration

ROWS = [
    ("a.jpg", 48.85341, 2.3488, "France", "Paris", ""),
    ("b.jpg", 35.6895, 139.69171, "Japan", "Tokyo", ""),
    ("c.jpg", 40.71427, -74.00597, "United States", "New York City", ""),
]


def test_eval_on_swift_deploy_completes_every_row(deployed_tiny_model: str, tmp_path: Path) -> None:
    gt_file, images, _ = write_scripted_eval_set(tmp_path, ROWS)
    output = tmp_path / "out.csv"
    code = main(["--url", deployed_tiny_model, "--gt-file", str(gt_file), "--image-root", str(images),
                 "--output", str(output), "--max-tokens", "8", "--concurrency", "2", "--timeout", "120",
                 "--quiet", "--no-plots", "--use_cot"])
    assert code == 0
    _, rows, clean = read_output_rows(output)
    assert clean and sorted(int(row["gt_index"]) for row in rows) == [0, 1, 2]
    assert all(row["status"] in ANSWERED_STATUSES for row in rows), [(r["status"], r["error"]) for r in rows]
    assert all(row["prediction"] for row in rows)
    summary = json.loads(output.with_suffix(".json").read_text())
    assert summary["n"] == 3 and summary["n_failed"] == 0 and summary["model"] == "globe-tiny"


def test_eval_with_several_samples_on_swift_deploy(deployed_tiny_model: str, tmp_path: Path) -> None:
    """Whether swift deploy honours ``n`` or not, every row gets both samples (globe.eval.runner)."""
    gt_file, images, _ = write_scripted_eval_set(tmp_path, ROWS)
    output = tmp_path / "out.csv"
    code = main(["--url", deployed_tiny_model, "--gt-file", str(gt_file), "--image-root", str(images),
                 "--output", str(output), "--max-tokens", "8", "--concurrency", "2", "--timeout", "120",
                 "--quiet", "--no-plots", "--use_cot", "--samples", "2", "--temperature", "0.8"])
    assert code == 0
    _, rows, clean = read_output_rows(output)
    assert clean and sorted(int(row["gt_index"]) for row in rows) == [0, 1, 2]
    assert all(row["status"] in ANSWERED_STATUSES for row in rows), [(r["status"], r["error"]) for r in rows]
    assert all(len(json.loads(row["samples"])) == 2 and row["n_samples"] == "2" for row in rows)
    summary = json.loads(output.with_suffix(".json").read_text())
    assert summary["n"] == 3 and summary["n_samples"] == 2 and "top1_acc_25km" in summary


def test_infer_streams_from_swift_deploy(deployed_tiny_model: str, tmp_path: Path, capsys) -> None:
    image = tmp_path / "x.jpg"
    image.write_bytes(jpeg_bytes(5))
    assert infer_main([str(image), "--url", deployed_tiny_model, "--max-tokens", "6"]) == 0
    err = capsys.readouterr().err
    assert "model: globe-tiny" in err and "TTFT:" in err


def test_first_token_logprobs_from_swift_deploy(deployed_tiny_model: str) -> None:
    async def ask():
        async with ChatClient(deployed_tiny_model, timeout=120, retries=1) as client:
            return await client.chat([user_message("Is this image locatable?", jpeg_bytes(2))], max_tokens=1,
                                     top_logprobs=2)

    result = asyncio.run(ask())
    assert result.ok, result.error
    assert set(result.first_token_top_logprobs) == {"yes", "no"}  # the tiny model is built to answer yes/no first
    assert result.usage.get("completion_tokens") == 1
