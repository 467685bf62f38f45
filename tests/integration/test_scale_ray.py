"""`--ray` on a real local Ray cluster: the same rows and pairs as the local paths, and resume after kills."""
from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

from globe.chat_client import image_data_url  # noqa: E402
from globe.data.cli import main as data_main  # noqa: E402
from globe.data.images import request_image  # noqa: E402
from globe.distill.cli import main as distill_main  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer  # noqa: E402
from tests.support.photos import NEAR_COPY_KINDS, near_copy, photo_like, write_photos  # noqa: E402

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "data" / "sample"
SAMPLE_CSV = SAMPLE / "mp16-reason-train.csv"
SAMPLE_IMAGES = SAMPLE / "train_images"


# --------------------------------------------------------------------------- distillation


def _image_key(url: str) -> str:
    return hashlib.sha1(base64.b64decode(url.split(",", 1)[1])).hexdigest()


#: The sample row whose teacher always answers HTTP 500: a failed row, recorded and retried by every run.
FAILING_ROW = 5


def _scripted_teacher() -> tuple[dict[str, str | None], int]:
    """Per sample image (keyed by the bytes the client sends): the right city, a wrong country, no JSON, or
    None (the server fails); and how many rows the filters should keep."""
    with open(SAMPLE_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))
    answers: dict[str, str | None] = {}
    kept = 0
    for n, row in enumerate(rows):
        key = _image_key(image_data_url(request_image(SAMPLE_IMAGES / row["IMG_ID"])))
        if n == FAILING_ROW:
            answers[key] = None
            continue
        if n % 4 == 3:
            answers[key] = "I cannot tell where this is."
            continue
        country, city = (row["country"], row["city"]) if n % 4 < 2 else ("Antarctica", "McMurdo Station")
        kept += country == row["country"]
        answers[key] = json.dumps({"locatable": "yes", "confidence": 0.9, "reasoning": f"Row {n}: cues of {city}.",
                                   "entities": ["a street sign", f"landmark {n}"], "country": country, "city": city})
    return answers, kept


def _responder(answers: dict[str, str]):
    def respond(request: dict) -> str:
        parts = [p for m in request["messages"] for p in m["content"] if isinstance(p, dict)]
        texts = [p.get("text", "") for p in parts if p.get("type") == "text"]
        if any(t.startswith("Is the following visible") for t in texts):
            return "yes"
        urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
        answer = answers.get(_image_key(urls[0]), "no image I know") if urls else "no image"
        if answer is None:
            raise RuntimeError("scripted teacher outage")  # the server answers HTTP 500
        return answer

    return respond


def _args(out: Path, url: str, *extra: str) -> list[str]:
    return ["--gt-file", str(SAMPLE_CSV), "--image-root", str(SAMPLE_IMAGES), "--out-dir", str(out),
            "--teacher", f"{url}=teacher-model", "--verifier", url, "--min-entities", "1", "--no-progress",
            "--backoff", "0.01", *extra]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _run_ray(out: Path, url: str, address: str, kill_at: int | None) -> int:
    """`python -m globe.distill --ray`; with ``kill_at``, SIGKILLed once its ledger has that many lines.
    Returns the ledger's line count when it was killed (or its exit code when it ended first: negative)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "globe.distill", *_args(out, url, "--concurrency", "1", "--ray", address)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    ledger = out / "distill" / "ledger.jsonl"
    if kill_at is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-3000:]
        return -proc.returncode
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if ledger.exists() and ledger.read_text().count("\n") >= kill_at:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return ledger.read_text().count("\n")
        time.sleep(0.02)
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"the --ray run ended before its ledger reached {kill_at} lines: {err.decode()[-3000:]}")


def _canonical(path: Path) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True) for row in _lines(path))


def test_distill_on_ray_killed_twice_writes_the_local_rows_once(ray_cluster, tmp_path):
    answers, expected_kept = _scripted_teacher()
    with FakeOpenAIServer(responder=_responder(answers), latency_s=0.25, model="teacher-model") as server:
        assert distill_main(_args(tmp_path / "local", server.url, "--concurrency", "8")) == 0
        first = _run_ray(tmp_path / "ray", server.url, ray_cluster, kill_at=2)
        second = _run_ray(tmp_path / "ray", server.url, ray_cluster, kill_at=first + 4)
        assert 0 < first < second < 28, (first, second)  # both kills landed mid-job
        _run_ray(tmp_path / "ray", server.url, ray_cluster, kill_at=None)

    local, ray = tmp_path / "local", tmp_path / "ray"
    kept = _lines(ray / "train.jsonl")
    assert len(kept) == expected_kept > 0 and len({row["image_id"] for row in kept}) == len(kept)
    assert _canonical(ray / "train.jsonl") == _canonical(local / "train.jsonl")
    assert _canonical(ray / "rm.jsonl") == _canonical(local / "rm.jsonl")
    ledger = _lines(ray / "distill" / "ledger.jsonl")
    settled = [e["image_id"] for e in ledger if e["outcome"] != "failed"]
    assert len(settled) == 27 == len(set(settled))  # each row committed once
    failed = [e for e in ledger if e["outcome"] == "failed"]  # recorded by each run that reached it, never fatal
    assert failed and {e["image_id"] for e in failed} == {e["image_id"] for e in _lines(local / "distill" / "ledger.jsonl")
                                                         if e["outcome"] == "failed"}
    assert failed[-1]["reason"] == "teacher_request_failed" and "http_500" in failed[-1]["error"]
    assert {e["image_id"] for e in ledger} == {e["image_id"] for e in _lines(local / "distill" / "ledger.jsonl")}
    candidates = [row["sample_id"] for row in _lines(ray / "distill" / "rm_candidates.jsonl")]
    assert len(candidates) == len(set(candidates))
    reports = [json.loads((out / "report.json").read_text()) for out in (local, ray)]
    for key in ("rows_in", "rows_kept", "rows_dropped", "rows_failed", "dropped_by_reason", "failed_by_reason"):
        assert reports[0][key] == reports[1][key], key


def test_a_teacher_given_as_a_model_path_becomes_a_vllm_engine_stage(ray_cluster, tmp_path):
    """Built, not run: vLLM and a GPU are not here. Its request is the served teacher's request."""
    from globe.distill.cli import build_config, build_parser
    from globe.distill.ray_job import EngineSettings, build_dataset, engine_request, row_to_line, vllm_teacher_processor
    from globe.catalog import GroundTruthRow
    from globe.prompts import TEACHER_PROMPT
    from globe.scale import connect

    args = build_parser().parse_args(["--gt-file", "x.csv", "--out-dir", "o", "--teacher", "/models/Qwen2.5-VL-72B",
                                      "--teacher", "http://127.0.0.1:9/v1=served", "--ray", ray_cluster])
    config = build_config(args)
    assert [t.engine for t in config.teachers] == [True, False] and config.teachers[0].model == "/models/Qwen2.5-VL-72B"
    connect(ray_cluster, "test")
    processor = vllm_teacher_processor(config.teachers[0].model, config, "teacher_0")
    assert type(processor).__name__ == "Processor"
    image = SAMPLE_IMAGES / next(iter(sorted(os.listdir(SAMPLE_IMAGES))))
    request = engine_request(row_to_line(GroundTruthRow(image_id="x", image_path=str(image))), config)
    (message,) = request["messages"]
    assert message["content"][-1] == {"type": "text", "text": TEACHER_PROMPT}
    assert message["content"][0]["image_url"]["url"] == image_data_url(request_image(image))
    assert request["sampling_params"] == {"max_tokens": 1024, "temperature": 0.0}
    todo = tmp_path / "todo.jsonl"
    todo.write_text(row_to_line(GroundTruthRow(image_id="x", image_path=str(image))) + "\n")
    plan = build_dataset(todo, 1, config, tmp_path, actors=1, engine=EngineSettings({"tensor_parallel_size": 2}))
    assert type(plan).__name__ == "Dataset"  # planned (vLLM stage, then the pipeline stage), not executed


def test_without_ray_a_model_path_teacher_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        distill_main(["--gt-file", "x.csv", "--out-dir", "o", "--teacher", "/models/Qwen2.5-VL-72B"])
    assert "http(s) /v1 base URL" in capsys.readouterr().err


# --------------------------------------------------------------------------- leakage


def test_leakage_on_ray_writes_the_local_index_and_pairs(ray_cluster, tmp_path):
    train = write_photos(tmp_path / "train", range(30), size=(160, 120))
    for name in ("a", "b"):  # two lists of the same images: each gets its own index beside it
        with open(tmp_path / f"train_{name}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows([["IMG_ID"], *[[p.name] for p in train]])
    test_dir = tmp_path / "test"
    for k, kind in enumerate(NEAR_COPY_KINDS):
        for j in range(2):
            test_dir.mkdir(exist_ok=True)
            (test_dir / f"{kind}{j}.jpg").write_bytes(near_copy(photo_like(7 * k + j, (160, 120)), kind))
    write_photos(test_dir, range(500, 506), prefix="new", size=(160, 120))
    (test_dir / "broken.jpg").write_bytes(b"\xff\xd8not a jpeg")

    def run(name: str, *extra: str) -> Path:
        out = tmp_path / f"pairs_{name}.csv"
        assert data_main(["leakage", "--train", str(tmp_path / f"train_{name}.csv"), "--train-images",
                          str(tmp_path / "train"), "--test", str(test_dir), "--out", str(out), "--workers", "1",
                          "--no-progress", *extra]) == 0
        return out

    local, ray = run("a"), run("b", "--ray", ray_cluster)
    assert ray.read_text() == local.read_text()
    pairs = list(csv.DictReader(local.open()))
    assert sum(row["leak"] == "1" for row in pairs) == 6 and len(pairs) == 13
    with np.load(tmp_path / "train_a.csv.phash.npz") as a, np.load(tmp_path / "train_b.csv.phash.npz") as b:
        for key in ("ids", "phashes", "dhashes", "ok"):
            assert np.array_equal(a[key], b[key]), key
