"""``--released-settings`` against a real ``swift deploy``: the released ``data:image;base64`` URL is read.

The released eval sent each file's bytes with no MIME subtype (``data:image;base64,...``); the
loopback tests check the bytes, this one that a real server decodes such a URL and answers.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from globe.eval.cli import main
from globe.eval.runner import ANSWERED_STATUSES, read_output_rows
from tests.support.fake_openai import write_scripted_eval_set

pytestmark = pytest.mark.integration


def test_released_settings_eval_on_swift_deploy(deployed_tiny_model: str, tmp_path: Path) -> None:
    gt_file, images, _ = write_scripted_eval_set(tmp_path, [("a.jpg", 48.85341, 2.3488, "France", "Paris", "")])
    output = tmp_path / "out.csv"
    code = main(["--url", deployed_tiny_model, "--gt-file", str(gt_file), "--image-root", str(images),
                 "--output", str(output), "--released-settings", "--max-tokens", "8", "--timeout", "120",
                 "--quiet", "--no-plots", "--use_cot"])
    assert code == 0
    _, [row], _ = read_output_rows(output)
    assert row["status"] in ANSWERED_STATUSES and row["prediction"], (row["status"], row["error"])
    summary = json.loads(output.with_suffix(".json").read_text())
    assert summary["string_truth"] == "released" and summary["n_string_rows"] == 1
