"""The real training launchers drive ms-swift end to end: 2 steps each on the tiny model, on the CPU.

Nothing here copies a launcher's command: each test runs ``bash examples/train/grpo/globe/<script>``
and changes only knobs (environment variables), the way a user on a laptop would: the tiny
model, float32, no DeepSpeed, no vLLM (so no rollout server: the released 6 + 2 GPU layout needs
GPUs), one process, two steps, two generations, and the flags a CPU without a hub needs
(``TINY_MODEL_ARGS``, through ``EXTRA_ARGS``; its ``--split_dataset_ratio 0`` wins over the
launchers' 0.01). Everything else (the plugins the script loads, its reward functions and
weights for the recipe, LoRA settings, freeze flags) is the script's own default, so the GRPO
tests assert that exactly the recipe's rewards were logged. Both recipes run.
"""
from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from globe.prompts import GEO_COT_PROMPT, LOCATABILITY_SYSTEM_PROMPT, format_answer
from globe.families import family as family_entry
from globe.swift_run import CPU_TRAIN_ARGS, TINY_MODEL_ARGS, free_port, offline_env
from tests.support.images import write_images

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER_DIR = REPO_ROOT / "examples" / "train" / "grpo" / "globe"

PLACES = [
    ("France", "Paris", 48.8566, 2.3522, ["Eiffel Tower", "Haussmann facade"]),
    ("Japan", "Kyoto", 35.0116, 135.7681, ["torii gate", "kanji signage"]),
    ("Brazil", "Rio de Janeiro", -22.9068, -43.1729, ["Sugarloaf Mountain"]),
    ("Kenya", "Nairobi", -1.2921, 36.8219, ["matatu minibus", "acacia tree"]),
]
# ms-swift's trainer metric name for each reward the launchers use (the plugin's class names)
REWARD_METRICS = {
    "globe_accuracy": "GlobeAccuracy",
    "globe_accuracy_released": "GlobeAccuracyReleased",
    "globe_locatability": "GlobeLocatability",
    "globe_visual_match": "GlobeVisualMatch",
    "globe_visual_match_released": "GlobeVisualMatchReleased",
    "globe_format": "GlobeFormat",
    "external_math_format": "ReleasedFormat",
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small ms-swift-format JSONL files for each stage, over generated images and real places."""
    root = tmp_path_factory.mktemp("launcher-data")
    images = write_images(root / "images", len(PLACES))
    files = {stage: root / f"{stage}.jsonl" for stage in ("sft", "rm", "grpo")}
    with files["sft"].open("w") as sft, files["rm"].open("w") as rm, files["grpo"].open("w") as grpo:
        for i, (image, (country, city, lat, lon, entities)) in enumerate(zip(images, PLACES)):
            reasoning = f"I can see the {entities[0]}, which points to {city}."
            columns = {
                "images": [str(image)], "solution": f"{country}\t{city}", "country": country, "city": city,
                "lat": lat, "lon": lon, "entities": [{"text": text} for text in entities], "image_id": image.stem,
            }
            question = {"role": "user", "content": "<image>" + GEO_COT_PROMPT}
            sft.write(json.dumps({"messages": [question, {"role": "assistant", "content": format_answer(
                country, city, reasoning)}], **columns}) + "\n")
            grpo.write(json.dumps({"messages": [question], **columns}) + "\n")
            rm.write(json.dumps({"messages": [
                {"role": "system", "content": LOCATABILITY_SYSTEM_PROMPT},
                {"role": "user", "content": "<image>" + reasoning},
                {"role": "assistant", "content": "yes" if i % 2 == 0 else "no"},
            ], "images": [str(image)]}) + "\n")
    return files


def run_launcher(script: str, tiny_model: str, dataset: Path, output: Path, **knobs: str) -> str:
    """Run the launcher with CPU knobs; return its output, or fail with the tail of it."""
    cpu_knobs = {
        "MODEL": tiny_model, "MODEL_TYPE": "qwen2_5_vl", "TORCH_DTYPE": "float32", "DEEPSPEED": "none",
        "USE_VLLM": "false", "NPROC_PER_NODE": "1", "MASTER_PORT": str(free_port()), "MAX_STEPS": "2",
        "BATCH_SIZE": "2", "GRAD_ACCUM": "1", "SAVE_STEPS": "2", "NUM_GENERATIONS": "2",
        "MAX_COMPLETION_LENGTH": "16", "GRADIENT_CHECKPOINTING": "false",
        "DATASET": str(dataset), "OUTPUT_DIR": str(output), "EXTRA_ARGS": " ".join(TINY_MODEL_ARGS),
    }
    proc = subprocess.run(
        ["bash", str(LAUNCHER_DIR / script)], env=offline_env({**cpu_knobs, **knobs}), cwd=output.parent,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )
    tail = "\n".join(proc.stdout.splitlines()[-60:])
    assert proc.returncode == 0, f"{script} exited with {proc.returncode}:\n{tail}"
    assert proc.stdout.startswith(f"# {script} (running; ")
    assert proc.stdout.splitlines()[1].startswith(f"# RECIPE={knobs.get('RECIPE', 'released')}")
    return proc.stdout


def finished_run(output: Path) -> tuple[Path, list[dict]]:
    """The one versioned run folder ms-swift wrote under OUTPUT_DIR, and its logged entries."""
    (run_dir,) = [path for path in output.iterdir() if path.is_dir()]
    logs = [json.loads(line) for line in (run_dir / "logging.jsonl").read_text().splitlines()]
    losses = [float(entry["loss"]) for entry in logs if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses), logs
    return run_dir, logs


def test_train_sft_runs_two_full_fine_tuning_steps(tiny_model: str, datasets: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "sft"
    run_launcher("train_sft.sh", tiny_model, datasets["sft"], output)
    run_dir, _ = finished_run(output)
    assert (run_dir / "checkpoint-2" / "model.safetensors").exists()
    saved = json.loads((run_dir / "args.json").read_text())
    assert (saved["tuner_type"], saved["learning_rate"], saved["freeze_vit"]) == ("full", 1e-5, True)


def test_train_rm_runs_two_lora_steps(tiny_model: str, datasets: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "rm"
    run_launcher("train_rm.sh", tiny_model, datasets["rm"], output)
    run_dir, _ = finished_run(output)
    adapter = run_dir / "checkpoint-2"
    assert (adapter / "adapter_model.safetensors").exists()
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (16, 64)


@pytest.mark.parametrize(
    ("script", "recipe", "family", "rewards"),
    [
        ("train_one_reward.sh", "released", "qwen2_5_vl", ["globe_accuracy_released", "external_math_format"]),
        # a family whose template prefills an empty think block: model type, template and image budget
        # come from globe/families.py through MODEL_FAMILY alone, and GLOBE's rewards read past the prefill
        ("train_two_rewards.sh", "globe", "qwen3_5", ["globe_accuracy", "globe_visual_match", "globe_format"]),
    ],
)
def test_grpo_launcher_trains_with_its_rewards(
    script: str, recipe: str, family: str, rewards: list[str], tiny_model: str, datasets: dict[str, Path],
    tmp_path: Path
) -> None:
    output = tmp_path / script.removesuffix(".sh")
    knobs = {"RECIPE": recipe}
    model = tiny_model
    if family != "qwen2_5_vl":
        from tests.support.tiny_families import tiny_family_dir

        model = str(tiny_family_dir(family))
        knobs.update(MODEL_FAMILY=family, MODEL_TYPE="", EXTRA_ARGS=" ".join(["--torch_dtype", "float32",
                                                                              *CPU_TRAIN_ARGS]))
    printed = run_launcher(script, model, datasets["grpo"], output, **knobs)
    budget = family_entry(family)
    assert f"--model_type {budget.model_type}" in " ".join(printed.split())
    run_dir, logs = finished_run(output)
    assert (run_dir / "checkpoint-2" / "model.safetensors").exists()
    logged = {key.split("/")[1] for entry in logs for key in entry if key.startswith("rewards/") and key.endswith("/mean")}
    assert logged == {REWARD_METRICS[name] for name in rewards}
    if family != "qwen2_5_vl":  # the scripted tiny model writes GLOBE's format after the template's empty think block
        formats = [entry["rewards/GlobeFormat/mean"] for entry in logs if "rewards/GlobeFormat/mean" in entry]
        assert formats and all(value == 1.0 for value in formats), formats


def test_train_all_rewards_scores_with_the_served_reward_model(
    tiny_model: str, datasets: dict[str, Path], deployed_tiny_model: str, tmp_path: Path
) -> None:
    output = tmp_path / "all"
    # fail fast: a reward model that cannot be reached must fail the run, not fall back
    printed = run_launcher("train_all_rewards.sh", tiny_model, datasets["grpo"], output,
                           GLOBE_RM_URL=deployed_tiny_model, GLOBE_RM_FAIL_FAST="1")
    assert f"GLOBE_RM_URL={deployed_tiny_model}" in printed
    run_dir, logs = finished_run(output)
    assert (run_dir / "checkpoint-2" / "model.safetensors").exists()
    logged = {key.split("/")[1] for entry in logs for key in entry if key.startswith("rewards/") and key.endswith("/mean")}
    assert logged == {REWARD_METRICS[name] for name in (
        "globe_accuracy_released", "globe_locatability", "globe_visual_match_released", "external_math_format")}
    assert "GLOBE_RM_INPUT=completion" in printed and "GLOBE_RM_VERDICT=released" in printed  # the released request
    locatability = [entry["rewards/GlobeLocatability/mean"] for entry in logs if "rewards/GlobeLocatability/mean" in entry]
    assert locatability and all(0.0 <= value <= 1.0 for value in locatability)
