"""The rewards against real ms-swift: locatability on `swift deploy`, all rewards in a `swift rlhf` GRPO run.

The tiny model is random, so what is checked is the wire and the plumbing: the deployed model
returns first-token logprobs our scorer turns into P(yes), and a GRPO run loads the plugin,
calls every reward (the async one included) and logs each reward's mean.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from globe import REPO_ROOT
from globe.chat_client import ChatClient, user_message
from globe.prompts import LOCATABILITY_SYSTEM_PROMPT
from globe.answers import released_verdict_probability
from globe.locatability import LocatabilityScorer, rm_input_text
from globe.swift_run import TINY_MODEL_ARGS, run_swift
from tests.support.images import jpeg_bytes, write_images

pytestmark = pytest.mark.integration

PLUGIN_FILE = REPO_ROOT / "globe" / "plugin.py"
COMPLETIONS = [
    "<think>Red double-decker buses and left-hand traffic.</think><answer>country: UK\ncity: London</answer>",
    "<think>Nothing but sky.</think><answer>country: France\ncity: Paris</answer>",
    "I cannot tell.",
]


def grpo_steps(tiny_model: str, tmp_path: Path, rows: list[dict], reward_funcs: list[str], max_steps: int,
               max_completion_length: int, env: dict[str, str] | None = None) -> list[dict]:
    """Run ``swift rlhf --rlhf_type grpo`` on ``rows`` with the plugin; the logged steps that carry rewards."""
    dataset = tmp_path / "rows.jsonl"
    dataset.write_text("\n".join(json.dumps(row) for row in rows))
    output = tmp_path / "out"
    run_swift(
        ["rlhf", "--rlhf_type", "grpo", "--model", tiny_model, *TINY_MODEL_ARGS,
         "--dataset", dataset, "--external_plugins", PLUGIN_FILE, "--reward_funcs", *reward_funcs,
         "--tuner_type", "lora", "--use_vllm", "false", "--max_steps", str(max_steps),
         "--per_device_train_batch_size", "2", "--num_generations", "2",
         "--max_completion_length", str(max_completion_length), "--beta", "0", "--logging_steps", "1",
         "--save_strategy", "no", "--output_dir", output],
        env=env,
        timeout=900,
        log_path=tmp_path / "grpo.log",
    )
    (log_file,) = output.rglob("logging.jsonl")
    return [entry for entry in map(json.loads, log_file.read_text().splitlines()) if "reward" in entry]


def test_locatability_scores_real_logprobs_from_swift_deploy(deployed_tiny_model: str) -> None:
    images = [[{"bytes": jpeg_bytes(i), "path": None}] for i in range(len(COMPLETIONS))]
    scorer = LocatabilityScorer(url=deployed_tiny_model, env={}, timeout=120, deadline=600, retries=1, fail_fast=True)
    batch = asyncio.run(scorer.score_batch(COMPLETIONS, images))
    assert batch.statuses == ["ok"] * len(COMPLETIONS), batch.errors

    async def reference(text: str, image: bytes) -> float | None:
        """The released request sent by hand (the whole completion, T=0.6, 5 tokens), read as released."""
        async with ChatClient(deployed_tiny_model, timeout=120, retries=1) as client:
            result = await client.chat(
                [{"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT}, user_message(rm_input_text(text), image)],
                max_tokens=5, temperature=0.6, top_logprobs=5,
            )
        assert result.ok, result.error
        return released_verdict_probability(result.first_token_top_logprob_entries)  # GLOBE_RM_VERDICT's default

    expected = [asyncio.run(reference(text, row[0]["bytes"])) for text, row in zip(COMPLETIONS, images)]
    assert batch.rewards == pytest.approx(expected, abs=1e-6)
    assert all(0.0 < reward < 1.0 for reward in batch.rewards)


def test_grpo_run_logs_every_globe_reward(tiny_model: str, deployed_tiny_model: str, tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", 4)
    rows = [
        {
            "messages": [{"role": "user", "content": "<image>Where was this photo taken?"}],
            "images": [str(path)],
            "solution": "France\tParis",
            "country": "France",
            "city": "Paris",
            "lat": 48.85341,
            "lon": 2.3488,
            "entities": [{"text": "Eiffel Tower"}, {"text": "bus"}],
            "image_id": f"img{i}",
        }
        for i, path in enumerate(images)
    ]
    # Fail fast: the run only succeeds if every locatability request was scored by the deployed RM.
    steps = grpo_steps(tiny_model, tmp_path, rows, ["globe_accuracy", "globe_locatability", "globe_visual_match",
                                                     "globe_format"], max_steps=2, max_completion_length=16,
                       env={"GLOBE_RM_URL": deployed_tiny_model, "GLOBE_RM_TIMEOUT": "120",
                            "GLOBE_RM_DEADLINE": "600", "GLOBE_RM_FAIL_FAST": "1"})
    assert len(steps) == 2
    for entry in steps:
        for name in ("GlobeAccuracy", "GlobeLocatability", "GlobeVisualMatch", "GlobeFormat"):
            assert 0.0 <= entry[f"rewards/{name}/mean"] <= 1.0, (name, entry)
        assert 0.0 < entry["rewards/GlobeLocatability/mean"] < 1.0
        # The plugin adds the RM's failure counts to the trainer's logged reward metrics.
        assert entry["rewards/GlobeLocatability/failed"] == 0.0
        assert entry["rewards/GlobeLocatability/circuit_open"] == 0.0


def test_the_released_reward_names_run_in_a_grpo_run(tiny_model: str, tmp_path: Path) -> None:
    """The released single-reward command line's ``--reward_funcs`` (plus our bit-exact accuracy) through real GRPO."""
    images = write_images(tmp_path / "images", 2)
    rows = [{"messages": [{"role": "user", "content": "<image>Where was this photo taken?"}], "images": [str(path)],
             "solution": "France\tParis"} for path in images]
    [entry] = grpo_steps(tiny_model, tmp_path, rows, ["globe_accuracy", "external_math_format",
                                                      "globe_accuracy_released"], max_steps=1, max_completion_length=8)
    for name in ("GlobeAccuracy", "ReleasedFormat", "GlobeAccuracyReleased"):
        assert 0.0 <= entry[f"rewards/{name}/mean"] <= 1.0, (name, entry)
