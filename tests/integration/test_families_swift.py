"""Every newer backbone family through the real ms-swift CLIs: one SFT step, one GRPO step, deploy + globe-eval.

Qwen2.5-VL runs through these stages in the other integration tests; here Qwen3-VL (thinking on:
its template prefills ``<think>\\n``), Qwen3.5 (its default: an empty ``<think>\\n\\n</think>\\n\\n``
block) and InternVL3 (transformers-native, no prefill) run on tiny scripted models
(:mod:`tests.support.tiny_families`) that write GLOBE's format after their template's prefill.
So the GRPO step proves the whole path a prefill takes (template -> completion -> reward): the
scripted completion earns the full accuracy, visual-match and format rewards only if the
rewards read past the prefill ms-swift puts at its front.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from globe.families import FAMILIES
from globe.prompts import GEO_COT_PROMPT, format_answer
from tests.support.images import write_images
from globe.swift_run import CPU_TRAIN_ARGS, deploy_tiny_model, family_load_args, run_swift
from tests.support.tiny_families import SCRIPT_ANSWER, SCRIPT_REASONING, SCRIPTED_THINKING, tiny_family_dir

pytestmark = pytest.mark.integration

PLUGIN_FILE = Path(__file__).resolve().parents[2] / "globe" / "plugin.py"
FAMILY_NAMES = ["qwen3_vl", "qwen3_5", "internvl3_hf"]


@pytest.fixture(scope="session", params=FAMILY_NAMES)
def family_model(request: pytest.FixtureRequest) -> tuple[str, str, list[str]]:
    """(family, tiny model dir, the swift flags that load it with its scripted thinking setting), built once."""
    name = request.param
    return name, str(tiny_family_dir(name)), family_load_args(name, SCRIPTED_THINKING[name])


def rows(tmp_path: Path, n: int, prefill: str | None = None) -> Path:
    """A JSONL of ``n`` rows over generated images (an SFT target after ``prefill`` when given)."""
    images = write_images(tmp_path / "images", n)
    path = tmp_path / "rows.jsonl"
    with path.open("w") as out:
        for image in images:
            messages = [{"role": "user", "content": "<image>" + GEO_COT_PROMPT}]
            if prefill is not None:
                messages.append({"role": "assistant",
                                 "content": format_answer("France", "Paris", SCRIPT_REASONING, prefill)})
            out.write(json.dumps({"messages": messages, "images": [str(image)], "solution": "France\tParis",
                                  "entities": [{"text": "Eiffel Tower"}, {"text": "bus"}]}) + "\n")
    return path


def test_swift_sft_trains_a_step_on_targets_after_the_familys_prefill(family_model, tmp_path: Path) -> None:
    name, model, load = family_model
    prefill = FAMILIES[name].prefill(SCRIPTED_THINKING[name])
    output = tmp_path / "out"
    run_swift(["sft", "--model", model, *load, *CPU_TRAIN_ARGS, "--dataset", rows(tmp_path, 2, prefill),
               "--tuner_type", "lora", "--max_steps", "1", "--per_device_train_batch_size", "2",
               "--max_length", "512", "--save_strategy", "no", "--logging_steps", "1", "--output_dir", output],
              timeout=600, log_path=tmp_path / "sft.log")
    (log_file,) = output.rglob("logging.jsonl")
    losses = [float(entry["loss"]) for entry in map(json.loads, log_file.read_text().splitlines()) if "loss" in entry]
    assert len(losses) == 1 and math.isfinite(losses[0]) and losses[0] > 0


def test_grpo_rewards_read_the_scripted_completion_past_the_familys_prefill(family_model, tmp_path: Path) -> None:
    name, model, load = family_model
    output = tmp_path / "out"
    run_swift(["rlhf", "--rlhf_type", "grpo", "--model", model, *load, *CPU_TRAIN_ARGS,
               "--dataset", rows(tmp_path, 2), "--external_plugins", PLUGIN_FILE,
               "--reward_funcs", "globe_accuracy", "globe_visual_match", "globe_format", "external_math_format",
               "--tuner_type", "lora", "--use_vllm", "false", "--max_steps", "1",
               "--per_device_train_batch_size", "2", "--num_generations", "2", "--max_completion_length", "12",
               "--max_length", "1024", "--beta", "0", "--logging_steps", "1", "--save_strategy", "no",
               "--log_completions", "true", "--output_dir", output],
              timeout=900, log_path=tmp_path / "grpo.log")
    (log_file,) = output.rglob("logging.jsonl")
    [step] = [entry for entry in map(json.loads, log_file.read_text().splitlines()) if "reward" in entry]
    for reward in ("GlobeAccuracy", "GlobeVisualMatch", "GlobeFormat"):
        assert step[f"rewards/{reward}/mean"] == 1.0, (name, reward, step)
    completions = [json.loads(line) for line in next(output.rglob("completions.jsonl")).read_text().splitlines()]
    texts = [text for entry in completions for text in (entry["completion"] if isinstance(entry["completion"], list)
                                                       else [entry["completion"]])]
    prefill = FAMILIES[name].prefill(SCRIPTED_THINKING[name])
    assert texts and all(text.startswith(prefill) and SCRIPT_ANSWER in text for text in texts), texts


@pytest.fixture(scope="session")
def deployed_family(family_model, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    name, model, load = family_model
    log = Path(tmp_path_factory.mktemp(f"deploy-{name}")) / "deploy.log"
    with deploy_tiny_model(model, log_path=log, load_args=load) as base_url:
        yield name, base_url


def test_globe_eval_and_infer_read_each_familys_replies_from_swift_deploy(deployed_family, tmp_path: Path,
                                                                         capsys) -> None:
    from globe.eval.cli import main as eval_main
    from globe.eval.infer import main as infer_main
    from globe.eval.runner import read_output_rows
    from tests.support.fake_openai import write_scripted_eval_set

    name, url = deployed_family
    gt_file, images, _ = write_scripted_eval_set(tmp_path, [("a.jpg", 48.85341, 2.3488, "France", "Paris", ""),
                                                            ("b.jpg", 35.6895, 139.69171, "Japan", "Tokyo", "")])
    output = tmp_path / "out.csv"
    assert eval_main(["--url", url, "--gt-file", str(gt_file), "--image-root", str(images), "--output", str(output),
                      "--max-tokens", "16", "--concurrency", "2", "--timeout", "120", "--quiet", "--no-plots",
                      "--use_cot"]) == 0
    _, scored_rows, clean = read_output_rows(output)
    assert clean and len(scored_rows) == 2
    assert all((row["status"], row["pred_country"], row["pred_city"]) == ("ok", "France", "Paris")
               for row in scored_rows), [(r["status"], r["prediction"]) for r in scored_rows]
    summary = json.loads(output.with_suffix(".json").read_text())
    assert summary["n"] == 2 and summary["n_failed"] == 0
    capsys.readouterr()
    assert infer_main([str(images / "a.jpg"), "--url", url, "--max-tokens", "16"]) == 0
    streamed = capsys.readouterr()
    assert streamed.out.startswith(FAMILIES[name].prefill(SCRIPTED_THINKING[name])) and "Paris" in streamed.err


def test_the_app_pins_and_explains_each_familys_reply_from_swift_deploy(deployed_family, tmp_path: Path) -> None:
    import asyncio

    from globe.app.locate import LocateOptions, Locator

    _, url = deployed_family
    image = write_images(tmp_path / "images", 1)[0]
    locator = Locator(url, timeout=120)

    async def locate():
        try:
            return await locator.locate(str(image), LocateOptions(max_tokens=16))
        finally:
            await locator.close()

    answer = asyncio.run(locate()).as_json()
    assert (answer["status"], answer["country"], answer["city"]) == ("ok", "France", "Paris"), answer["message"]
    assert answer["reasoning"] == SCRIPT_REASONING  # the model's own think block, not the template's empty one
