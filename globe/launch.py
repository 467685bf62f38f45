"""The GLOBE launchers' knob table and command builder (behind ``examples/train/grpo/globe/*.sh``).

Each launcher script is a thin wrapper: ``python globe/launch.py train_sft "$@"``. This module
reads the knobs (environment variables), checks each against its type, builds ONE command
(``swift sft|rlhf|rollout|deploy`` or ``vllm serve``), prints it so it can be pasted into a
shell, and runs it (``DRY_RUN=1``: prints only). Why Python rather than bash: every knob is
declared once below (type, default per launcher, default per recipe, help), the same table
feeds the checks, the README's recipe table and the fidelity test, and starting and stopping
a rollout server around a training run is plain ``try/finally`` here.

Recipes. ``RECIPE=released`` (default) reproduces the paper's released scripts as exactly as
ms-swift 4.x allows; ``RECIPE=globe`` switches on GLOBE's improvements. Every knob whose
default depends on the recipe is a :class:`Recipe` value below (released value, GLOBE value,
why); ``python globe/launch.py --recipe-table`` prints them as the README table. A knob set in
the environment always wins over both.

Standard library only, and no ``globe`` imports: it runs from a checkout with any Python 3.9+.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPES = ("released", "globe")
OFF = frozenset({"", "none"})


class LaunchError(Exception):
    """A knob or combination of knobs the launcher refuses; the message names it and the fix."""


# --------------------------------------------------------------------------- model families


@dataclass(frozen=True)
class Family:
    """Defaults a model family gives MODEL, MODEL_TYPE, TEMPLATE and the image budget."""

    model: str
    released_weights: str  # what serve_policy.sh serves by default
    model_type: str
    template: str
    max_pixels: int | None  # Qwen reads MAX_PIXELS; InternVL tiles images instead (MAX_NUM)


FAMILIES: dict[str, Family] = {
    # 1003520 = 1280 visual tokens of 28x28 pixels: the released SFT/RM scripts' MAX_PIXELS
    "qwen2_5_vl": Family("Qwen/Qwen2.5-VL-7B-Instruct", "globe-project/GLOBE-Qwen2.5VL-7B",
                         "qwen2_5_vl", "qwen2_5_vl", 1003520),
    "internvl3": Family("OpenGVLab/InternVL3-8B", "globe-project/GLOBE-InternVL3-8B",
                        "internvl_chat", "internvl2_5", None),
}
FAMILY_PIXELS = "<family's image budget>"  # a default meaning Family.max_pixels

# --------------------------------------------------------------------------- the knob table

SFT, RM = "train_sft", "train_rm"
ONE, TWO, ALL = "train_one_reward", "train_two_rewards", "train_all_rewards"
ROLLOUT, SERVE_POLICY, SERVE_RM = "rollout_server", "serve_policy", "serve_rm"
GRPO = (ONE, TWO, ALL)
TRAINING = (SFT, RM, *GRPO)
SERVING = (SERVE_POLICY, SERVE_RM)
LAUNCHERS = (*TRAINING, ROLLOUT, *SERVING)


@dataclass(frozen=True)
class Recipe:
    """A default that differs between the released run and GLOBE, and why GLOBE differs."""

    released: str | None
    globe: str | None
    why: str

    def value(self, recipe: str) -> str | None:
        return self.released if recipe == "released" else self.globe


Default = Any  # str | None | Recipe | dict[str, str | None | Recipe]  (dict: by launcher or group)


@dataclass(frozen=True)
class Knob:
    kind: str  # text, int, number, bool, choice, words, ints, numbers, gpus
    help: str
    default: Default = None
    choices: tuple[str, ...] = ()


def per(**by_launcher: Default) -> dict[str, Default]:
    """A default per launcher; keys are launcher names or the groups grpo, training, serving, any."""
    return by_launcher


R = Recipe
WHY_LAYOUT = ("one node, no process left idle: vLLM shares every GPU with training (sleeping while it trains), "
              "so 8 processes train, not 6, and rollouts are on-policy (synchronous)")
KNOBS: dict[str, Knob] = {
    "RECIPE": Knob("choice", "released: the paper's scripts; globe: GLOBE's improvements", "released", RECIPES),
    "DRY_RUN": Knob("bool", "1: print the command, run nothing", "false"),
    # model
    "MODEL_FAMILY": Knob("choice", "sets the defaults of MODEL, MODEL_TYPE, TEMPLATE, MAX_PIXELS", "qwen2_5_vl",
                         tuple(FAMILIES)),
    "MODEL": Knob("text", "hub id or local checkpoint (default: the family's)"),
    "MODEL_TYPE": Knob("text", "ms-swift --model_type (default: the family's)"),
    "TEMPLATE": Knob("text", "ms-swift --template (default: the family's)"),
    "MAX_PIXELS": Knob("int", "Qwen's image budget, read by ms-swift/vLLM (serving: MM_PROCESSOR_KWARGS)", per(
        train_sft=FAMILY_PIXELS, train_rm=FAMILY_PIXELS,
        any=R(None, FAMILY_PIXELS, "the policy is trained and served at the resolution SFT and the reward model "
              "saw; without it Qwen2.5-VL takes up to 12.8 M pixels (16384 visual tokens) per image"))),
    "MAX_NUM": Knob("int", "InternVL's image tile budget (ms-swift default 12)"),
    "TORCH_DTYPE": Knob("text", "--torch_dtype", per(training="bfloat16", rollout_server="bfloat16")),
    # training
    "DATASET": Knob("words", "registered names and/or local files (name#N: a sample of N rows)", per(
        train_sft="mp16-reason-sft", train_rm="mp16-reason-rm", grpo="mp16-reason-train")),
    "OUTPUT_DIR": Knob("text", "--output_dir", per(
        train_sft="experiments/sft_geoloc_reason", train_rm="experiments/globe_rm_model",
        train_one_reward="experiments/globe_acc_reward", train_two_rewards="experiments/globe_acc_vm_reward",
        train_all_rewards="experiments/globe_all_rewards")),
    "NPROC_PER_NODE": Knob("int", "training processes (GPUs) per node, read by ms-swift's torchrun", per(
        train_sft="8", train_rm="8", grpo=R("6", "8", WHY_LAYOUT))),
    "NNODES": Knob("int", "multi-node: read by ms-swift's torchrun"),
    "NODE_RANK": Knob("int", "multi-node: read by ms-swift's torchrun"),
    "MASTER_ADDR": Knob("text", "multi-node: read by ms-swift's torchrun"),
    "MASTER_PORT": Knob("int", "multi-node: read by ms-swift's torchrun"),
    "TUNER_TYPE": Knob("text", "--tuner_type (3.x: --train_type)", per(train_rm="lora", training="full")),
    "DEEPSPEED": Knob("text", "--deepspeed: zero2, zero3 or a DeepSpeed .json; none: no DeepSpeed", per(
        train_sft=R(None, "zero3", "full fine-tuning of a 7B model does not fit a 40 GB GPU (the hardware the "
                    "released README names) without sharding"),
        train_rm=None, grpo="zero3")),
    "LEARNING_RATE": Knob("number", "--learning_rate", per(train_sft="1e-5", train_rm="1e-4", grpo="1e-6")),
    "NUM_TRAIN_EPOCHS": Knob("int", "--num_train_epochs", per(train_sft="2", train_rm="2", grpo="1")),
    "MAX_STEPS": Knob("int", "--max_steps (overrides the epochs)"),
    "BATCH_SIZE": Knob("int", "--per_device_train_batch_size and --per_device_eval_batch_size", per(
        train_sft="1", train_rm="4", grpo="8")),
    "GRAD_ACCUM": Knob("int", "--gradient_accumulation_steps", per(train_sft="8", train_rm="4", grpo="2")),
    "MAX_LENGTH": Knob("int", "--max_length", per(train_sft="2048", train_rm="2048", grpo="8192")),
    "WARMUP_RATIO": Knob("number", "--warmup_ratio", per(train_sft="0.05", train_rm="0.05", grpo="0.01")),
    "FREEZE_VIT": Knob("bool", "--freeze_vit", per(training="true")),
    "FREEZE_ALIGNER": Knob("bool", "--freeze_aligner", per(training="true")),
    "GRADIENT_CHECKPOINTING": Knob("bool", "--gradient_checkpointing", per(training="true")),
    "SPLIT_DATASET_RATIO": Knob("number", "--split_dataset_ratio: the held-out share (ms-swift 3.x default 0.01, "
                                "4.x 0)", per(training="0.01")),
    "EVAL_STRATEGY": Knob("choice", "--eval_strategy", per(training="steps"), ("steps", "epoch", "no")),
    "EVAL_STEPS": Knob("int", "--eval_steps", per(training="200")),
    "SAVE_STEPS": Knob("int", "--save_steps", per(training="200")),
    "SAVE_TOTAL_LIMIT": Knob("int", "--save_total_limit", per(training="5")),
    "LOGGING_STEPS": Knob("int", "--logging_steps", per(training="1")),
    "DATALOADER_NUM_WORKERS": Knob("int", "--dataloader_num_workers", per(training="4")),
    "LORA_RANK": Knob("int", "--lora_rank (TUNER_TYPE=lora)", per(train_rm="16")),
    "LORA_ALPHA": Knob("int", "--lora_alpha (TUNER_TYPE=lora)", per(train_rm="64")),
    "TARGET_MODULES": Knob("words", "--target_modules (TUNER_TYPE=lora)", per(train_rm="all-linear")),
    "EXTERNAL_PLUGINS": Knob("words", "--external_plugins (3.x: --external_plugins + --custom_register_path)", per(
        train_sft="globe/dataset.py", train_rm="globe/dataset.py", grpo="globe/plugin.py globe/dataset.py")),
    # GRPO rewards
    "ACCURACY_REWARD": Knob("text", "the accuracy reward's name in REWARD_FUNCS' default", per(grpo=R(
        "globe_accuracy_released", "globe_accuracy",
        "names are matched as places (aliases, scripts, spellings: \"Munich\" = \"München\") instead of by a "
        "0.7-length substring rule; same scope and values as released (first answer block, 1.0 / 0.2 / 0.0)"))),
    "FORMAT_REWARD": Knob("text", "the format reward's name in REWARD_FUNCS' default", per(grpo=R(
        "external_math_format", "globe_format",
        "also requires the `country:`/`city:` lines (real values, not placeholders) inside the answer block that "
        "the accuracy reward reads, and no second think/answer tag"))),
    "REWARD_FUNCS": Knob("words", "--reward_funcs", per(
        train_one_reward="{ACCURACY_REWARD} {FORMAT_REWARD}",
        train_two_rewards="{ACCURACY_REWARD} globe_visual_match {FORMAT_REWARD}",
        train_all_rewards="{ACCURACY_REWARD} globe_locatability globe_visual_match {FORMAT_REWARD}")),
    "REWARD_WEIGHTS": Knob("numbers", "--reward_weights, one per reward", per(
        train_one_reward="1 1", train_two_rewards="1 0.5 1", train_all_rewards="1 0.5 0.2 1")),
    "NUM_GENERATIONS": Knob("int", "--num_generations", per(grpo="16")),
    "TEMPERATURE": Knob("number", "--temperature", per(grpo="1.0")),
    "TOP_K": Knob("int", "--top_k (ms-swift 3.4 default 50, 4.x -1)", per(grpo="50")),
    "TOP_P": Knob("number", "--top_p (ms-swift 3.4 default 0.9, 4.x 1.0)", per(grpo="0.9")),
    "BETA": Knob("number", "--beta (KL coefficient)", per(grpo="0.001")),
    "MAX_COMPLETION_LENGTH": Knob("int", "--max_completion_length", per(grpo="1024")),
    "NUM_ITERATIONS": Knob("int", "--num_iterations", per(grpo="1")),
    "LOG_COMPLETIONS": Knob("bool", "--log_completions", per(grpo="true")),
    # GRPO rollouts
    "USE_VLLM": Knob("bool", "--use_vllm; false: generate with transformers (CPU tests)", per(grpo="true")),
    "VLLM_MODE": Knob("choice", "server: rollouts on their own GPUs; colocate: on the training GPUs", per(
        grpo=R("server", "colocate", WHY_LAYOUT)), ("server", "colocate")),
    "ASYNC_GENERATE": Knob("bool", "server mode: generate the next batch while training (one step stale)", per(
        grpo=R("true", "false", "on-policy rollouts: ms-swift generates asynchronously only in server mode, and "
               "async rollouts come from the previous step's weights without clipping the advantage"))),
    "TRAIN_GPUS": Knob("gpus", "server mode with the launcher's own rollout server: the training GPUs "
                       "(default: the first NPROC_PER_NODE GPUs not in ROLLOUT_GPUS)"),
    "ROLLOUT_GPUS": Knob("gpus", "server mode: the GPUs of the rollout server the launcher starts itself", per(
        grpo="6,7")),
    "VLLM_GPU_MEMORY_UTILIZATION": Knob("number", "vLLM's share of each of its GPUs", per(grpo=R(
        "0.85", "0.5", "colocated, vLLM leaves half of each GPU to training"))),
    "VLLM_MAX_MODEL_LEN": Knob("int", "vLLM's context: prompt (image included) + completion", per(grpo=R(
        "1024", "8192", "a prompt's image alone takes up to 1280 tokens, so 1024 cannot hold the prompt and "
        "a 1024-token completion"))),
    "VLLM_TENSOR_PARALLEL_SIZE": Knob("int", "--vllm_tensor_parallel_size", per(grpo="1")),
    "SLEEP_LEVEL": Knob("int", "colocate: --sleep_level (vLLM frees its memory while the model trains)",
                        per(grpo="1")),
    "VLLM_SERVER_HOST": Knob("words", "server mode: external rollout server host(s); unset: the launcher "
                             "starts its own on ROLLOUT_GPUS"),
    "VLLM_SERVER_PORT": Knob("ints", "server mode: rollout server port(s)", per(grpo="8000")),
    "ROLLOUT_START_TIMEOUT": Knob("int", "seconds to wait for the launcher's own rollout server", per(grpo="1800")),
    # the locatability reward model request, read by globe's RM client
    "GLOBE_RM_URL": Knob("text", "the reward model's base URL (required by globe_locatability)"),
    "GLOBE_RM_MODEL": Knob("text", "its model name (default: the only model or LoRA the server lists)"),
    "GLOBE_RM_INPUT": Knob("choice", "what the reward model reads besides the image", per(grpo=R(
        "completion", "reasoning", "the RM was trained on reasoning text; the answer lines would let it judge "
        "the answer instead of whether the image is locatable")), ("completion", "reasoning")),
    "GLOBE_RM_TEMPERATURE": Knob("number", "sampling temperature of the RM's reply", per(grpo=R(
        "0.6", "0.0", "only the first token's probabilities are read; greedy makes the reply reproducible"))),
    "GLOBE_RM_MAX_TOKENS": Knob("int", "tokens the RM may generate (only the first is scored)", per(grpo=R(
        "5", "3", "fewer tokens per request; only the first is scored"))),
    "GLOBE_RM_NO_VERDICT": Knob("choice", "no yes/no among the top logprobs: zero (0.0) or text (read the reply)",
                                per(grpo=R("zero", "text", "a reply that says yes or no in other tokens still "
                                           "counts")), ("zero", "text")),
    "GLOBE_RM_FALLBACK": Knob("number", "reward when the RM cannot be reached or answer", per(grpo=R(
        "0.0", "0.5", "an outage must not push the policy away from locatable reasoning; 0.5 is neutral"))),
    # serving and the rollout server
    "SERVE_BACKEND": Knob("choice", "vllm: `vllm serve`; swift: `swift deploy`", per(serving="vllm"),
                          ("vllm", "swift")),
    "SERVED_MODEL_NAME": Knob("text", "the name clients ask for", per(serve_policy="globe", serve_rm="globe-rm")),
    "HOST": Knob("text", "address to listen on", per(serving="0.0.0.0", rollout_server="0.0.0.0")),
    "PORT": Knob("int", "port to listen on", per(serve_policy="8000", serve_rm="8001", rollout_server="8000")),
    "MAX_MODEL_LEN": Knob("int", "vLLM's context length", per(serving="8192", rollout_server="8192")),
    "TENSOR_PARALLEL_SIZE": Knob("int", "GPUs per model replica", per(serving="1", rollout_server="1")),
    "DATA_PARALLEL_SIZE": Knob("int", "vLLM replicas", per(rollout_server="8")),
    "GPU_MEMORY_UTILIZATION": Knob("number", "vLLM's share of each GPU", per(serving="0.9", rollout_server="0.9")),
    "MM_PROCESSOR_KWARGS": Knob("text", "vllm serve --mm-processor-kwargs (default: from MAX_PIXELS)"),
    "RM_ADAPTER": Knob("text", "the RM LoRA (default: the newest train_rm.sh checkpoint); none: serve MODEL"),
    "MAX_LORA_RANK": Knob("int", "vllm serve --max-lora-rank (>= train_rm.sh's LORA_RANK)", per(serve_rm="16")),
    "INFER_BACKEND": Knob("text", "swift deploy --infer_backend", per(serving="transformers")),
    "MAX_NEW_TOKENS": Knob("int", "swift deploy --max_new_tokens"),
    # programs and pass-through
    "SWIFT_BIN": Knob("text", "the swift program", "swift"),
    "VLLM_BIN": Knob("text", "the vllm program", "vllm"),
    "EXTRA_ARGS": Knob("text", "appended to the command (split on whitespace); the script's arguments follow"),
}
NUMBER = re.compile(r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
GROUPS = {"grpo": GRPO, "training": TRAINING, "serving": SERVING, "any": LAUNCHERS}


NOT_DECLARED = object()  # a knob with no default for a launcher (unlike None: declared as left out)


def launcher_default(knob: Knob, launcher: str) -> Default:
    """``knob``'s default for ``launcher``: a value, None, a :class:`Recipe`, or NOT_DECLARED."""
    default = knob.default
    if not isinstance(default, dict):
        return default
    if launcher in default:
        return default[launcher]
    return next((value for key, value in default.items() if launcher in GROUPS.get(key, ())), NOT_DECLARED)


def default_for(name: str, launcher: str, recipe: str) -> str | None:
    """The default of knob ``name`` for ``launcher`` under ``recipe`` (None: flag left out)."""
    default = launcher_default(KNOBS[name], launcher)
    if default is NOT_DECLARED:
        return None
    return default.value(recipe) if isinstance(default, Recipe) else default


def recipe_knobs(launcher: str) -> dict[str, Recipe]:
    """The knobs whose default for ``launcher`` depends on RECIPE."""
    return {name: default for name, knob in KNOBS.items()
            if isinstance(default := launcher_default(knob, launcher), Recipe)}


class Knobs:
    """Typed knob values for one launcher: the environment first, then the recipe's default."""

    def __init__(self, launcher: str, env: Mapping[str, str]):
        self.launcher, self.env = launcher, env
        self.recipe = "released"  # what raw() needs to read RECIPE itself
        self.recipe = self.choice("RECIPE")
        self.family = FAMILIES[self.choice("MODEL_FAMILY")]

    def raw(self, name: str) -> str | None:
        if name not in KNOBS:
            raise KeyError(f"{name} is not in globe/launch.py's KNOBS table")
        if name in self.env:
            value = self.env[name]  # yours, word for word (JSON braces included)
        else:
            value = default_for(name, self.launcher, self.recipe)
            if value == FAMILY_PIXELS:
                value = None if self.family.max_pixels is None else str(self.family.max_pixels)
            elif value is not None and "{" in value:  # a default built from other knobs: {ACCURACY_REWARD} ...
                value = value.format(**{key: self.raw(key) or "" for key in re.findall(r"{(\w+)}", value)})
        return None if value is None or value.strip().lower() in OFF else value.strip()

    @property
    def dry_run(self) -> bool:
        """DRY_RUN, where unset or empty means a real run."""
        return self.set("DRY_RUN") and self.bool("DRY_RUN")

    def set(self, name: str) -> bool:
        return self.raw(name) is not None

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise LaunchError(f"{name} is empty: it has no ms-swift default to fall back on, set it")
        return value

    def text(self, name: str) -> str | None:
        return self.raw(name)

    def int(self, name: str) -> str | None:
        value = self.raw(name)
        if value is not None and not re.fullmatch(r"-?[0-9]+", value):
            raise LaunchError(f"{name}='{value}' is not a whole number")
        return value

    def number(self, name: str) -> str | None:
        value = self.raw(name)
        if value is not None and not NUMBER.match(value):
            raise LaunchError(f"{name}='{value}' is not a number")
        return value

    def bool(self, name: str) -> bool:
        value = (self.raw(name) or "").lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise LaunchError(f"{name}='{self.env.get(name, value)}' is not a boolean: use true or false")

    def choice(self, name: str) -> str:
        value, choices = self.raw(name) or "", KNOBS[name].choices
        if value not in choices:
            raise LaunchError(f"{name}='{value}' is not one of: {', '.join(choices)}")
        return value

    def words(self, name: str) -> list[str]:
        value = self.raw(name)
        return value.split() if value else []

    def numbers(self, name: str) -> list[str]:
        words = self.words(name)
        bad = [word for word in words if not NUMBER.match(word)]
        if bad:
            raise LaunchError(f"{name} has '{bad[0]}', which is not a number")
        return words

    def gpus(self, name: str) -> list[str]:
        value = self.raw(name)
        if value is None:
            return []
        ids = value.split(",")
        if not all(re.fullmatch(r"[0-9]+", gpu) for gpu in ids):
            raise LaunchError(f"{name}='{value}' is not a comma-separated list of GPU numbers (e.g. 6,7)")
        return ids

    def ints(self, name: str) -> list[str]:
        words = self.words(name)
        bad = [word for word in words if not re.fullmatch(r"-?[0-9]+", word)]
        if bad:
            raise LaunchError(f"{name} has '{bad[0]}', which is not a whole number")
        return words

    def value(self, name: str) -> str | None:
        """Any knob, checked by its declared kind; lists as the command takes them (None: left out)."""
        kind = KNOBS[name].kind
        if kind in ("words", "ints", "numbers"):
            return " ".join(getattr(self, kind)(name)) or None
        if kind == "gpus":
            return ",".join(self.gpus(name)) or None
        if kind in ("bool", "choice") and not self.set(name):
            return None
        if kind == "bool":
            return str(self.bool(name)).lower()
        return getattr(self, kind)(name)


# --------------------------------------------------------------------------- the command


@dataclass
class Command:
    """An argv and the NAME=VALUE pairs it runs with."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str, *values: str | None) -> None:
        """--name values..., left out when the (single) value is None."""
        if values and all(value is None for value in values):
            return
        self.argv += [f"--{name}", *[value for value in values if value is not None]]

    def setenv(self, name: str, value: str | None) -> None:
        if value is not None:
            self.env[name] = value

    def render(self) -> str:
        """The command as a shell reads it back: one flag per line, quoted where needed."""
        lines = [" ".join(f"{name}={shlex.quote(value)}" for name, value in self.env.items())] if self.env else []
        current = ""
        for word in self.argv:
            if word.startswith("--") and current:
                lines.append(current)
                current = "    "
            current += ("" if current.strip() == "" else " ") + shlex.quote(word)
        lines.append(current)
        return " \\\n".join(lines)


@dataclass
class Plan:
    """What a launcher runs: the command, a rollout server to start first (if any), text to print after."""

    command: Command
    create_dir: str | None = None
    server: Command | None = None
    server_url: str | None = None
    server_timeout: int = 1800
    note: str = ""


def resolve_path(value: str) -> str:
    """An existing path as an absolute one (working directory first, then the repo root); else as is.

    A ms-swift sample suffix (``file.jsonl#1000``) is kept.
    """
    base, hash_, suffix = value.partition("#")
    for candidate in (Path(base), REPO_ROOT / base) if base else ():
        if candidate.exists():
            return f"{candidate.resolve()}{hash_}{suffix}"
    return value


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint ms-swift wrote under ``folder`` (highest vN, then highest step)."""
    def key(path: Path) -> tuple[int, int]:
        version = re.match(r"v(\d+)", path.parent.name)
        return (int(version.group(1)) if version else -1, int(path.name.split("-")[1]))

    found = [path for path in folder.glob("*/checkpoint-*")
             if path.is_dir() and re.fullmatch(r"checkpoint-\d+", path.name)] if folder.is_dir() else []
    return max(found, key=key) if found else None


def model_flags(cmd: Command, k: Knobs, model: str) -> None:
    cmd.flag("model", model)
    cmd.flag("model_type", k.text("MODEL_TYPE") if "MODEL_TYPE" in k.env else k.family.model_type)
    cmd.flag("template", k.text("TEMPLATE") if "TEMPLATE" in k.env else k.family.template)


def image_env(cmd: Command, k: Knobs) -> None:
    cmd.setenv("MAX_PIXELS", k.int("MAX_PIXELS"))
    cmd.setenv("MAX_NUM", k.int("MAX_NUM"))


def training_command(k: Knobs, subcommand: list[str]) -> Command:
    """The flags `swift sft` and `swift rlhf` share, in the released scripts' order where they agree."""
    cmd = Command([k.required("SWIFT_BIN"), *subcommand])
    model_flags(cmd, k, resolve_path(k.required("MODEL") if "MODEL" in k.env else k.family.model))
    plugins = [resolve_path(word) for word in k.words("EXTERNAL_PLUGINS")]
    if not k.dry_run:
        missing = [path for path in plugins if not Path(path).is_file()]
        if missing:
            raise LaunchError(f"plugin {missing[0]} does not exist (EXTERNAL_PLUGINS); run from a full GLOBE checkout")
    if plugins:
        cmd.flag("external_plugins", *plugins)
    cmd.flag("tuner_type", k.required("TUNER_TYPE"))
    cmd.flag("torch_dtype", k.text("TORCH_DTYPE"))
    datasets = [resolve_path(word) for word in k.words("DATASET")]
    if not datasets:
        raise LaunchError("DATASET is empty: it has no ms-swift default to fall back on, set it")
    cmd.flag("dataset", *datasets)
    cmd.flag("split_dataset_ratio", k.number("SPLIT_DATASET_RATIO"))
    cmd.flag("max_length", k.int("MAX_LENGTH"))
    cmd.flag("num_train_epochs", k.int("NUM_TRAIN_EPOCHS"))
    cmd.flag("max_steps", k.int("MAX_STEPS"))
    for name in ("FREEZE_VIT", "FREEZE_ALIGNER", "GRADIENT_CHECKPOINTING"):
        cmd.flag(name.lower(), str(k.bool(name)).lower())
    batch = k.int("BATCH_SIZE")
    cmd.flag("per_device_train_batch_size", batch)
    cmd.flag("per_device_eval_batch_size", batch)
    cmd.flag("learning_rate", k.number("LEARNING_RATE"))
    cmd.flag("gradient_accumulation_steps", k.int("GRAD_ACCUM"))
    cmd.flag("save_strategy", "steps")
    cmd.flag("eval_strategy", k.value("EVAL_STRATEGY"))
    cmd.flag("eval_steps", k.int("EVAL_STEPS"))
    cmd.flag("save_steps", k.int("SAVE_STEPS"))
    cmd.flag("save_total_limit", k.int("SAVE_TOTAL_LIMIT"))
    cmd.flag("logging_steps", k.int("LOGGING_STEPS"))
    cmd.flag("output_dir", resolve_output(k.required("OUTPUT_DIR"), k))
    cmd.flag("warmup_ratio", k.number("WARMUP_RATIO"))
    cmd.flag("dataloader_num_workers", k.int("DATALOADER_NUM_WORKERS"))
    deepspeed = k.text("DEEPSPEED")
    if deepspeed is not None and deepspeed.lower() != "false":
        cmd.flag("deepspeed", resolve_path(deepspeed) if deepspeed.endswith(".json") else deepspeed)
    image_env(cmd, k)
    for name in ("NPROC_PER_NODE", "NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT"):
        cmd.setenv(name, k.value(name))
    return cmd


def resolve_output(value: str, k: Knobs) -> str:
    """Default output folders live under the repo root; yours are taken as you wrote them."""
    return str(REPO_ROOT / value) if "OUTPUT_DIR" not in k.env else value


def extra_args(cmd: Command, k: Knobs, args: list[str]) -> None:
    cmd.argv += k.words("EXTRA_ARGS") + list(args)


def build_sft(k: Knobs, args: list[str]) -> Plan:
    cmd = training_command(k, ["sft"])
    if k.launcher == RM and k.text("TUNER_TYPE") == "lora":
        cmd.flag("lora_rank", k.int("LORA_RANK"))
        cmd.flag("lora_alpha", k.int("LORA_ALPHA"))
        targets = k.words("TARGET_MODULES")
        if targets:
            cmd.flag("target_modules", *targets)
    if k.launcher == RM and k.bool("GRADIENT_CHECKPOINTING"):
        # non-reentrant checkpointing: gradients reach the LoRA weights behind the frozen embeddings
        cmd.flag("gradient_checkpointing_kwargs", '{"use_reentrant": false}')
    extra_args(cmd, k, args)
    return Plan(cmd, create_dir=cmd.argv[cmd.argv.index("--output_dir") + 1])


RM_REQUEST_KNOBS = ("GLOBE_RM_INPUT", "GLOBE_RM_TEMPERATURE", "GLOBE_RM_MAX_TOKENS", "GLOBE_RM_NO_VERDICT",
                    "GLOBE_RM_FALLBACK")
#: reward names that ask the served reward model (globe/plugin.py registers both spellings)
RM_REWARDS = ("globe_locatability", "globe_locatablity")


def build_grpo(k: Knobs, args: list[str]) -> Plan:
    cmd = training_command(k, ["rlhf", "--rlhf_type", "grpo"])
    funcs, weights = k.words("REWARD_FUNCS"), k.numbers("REWARD_WEIGHTS")
    if not funcs or not weights:
        raise LaunchError(f"{'REWARD_FUNCS' if not funcs else 'REWARD_WEIGHTS'} is empty: "
                          "it has no ms-swift default to fall back on, set it")
    if len(funcs) != len(weights):
        raise LaunchError(f"REWARD_FUNCS has {len(funcs)} reward(s) ({' '.join(funcs)}) but REWARD_WEIGHTS has "
                          f"{len(weights)} weight(s) ({' '.join(weights)}): give one weight per reward, in order")
    cmd.flag("reward_funcs", *funcs)
    cmd.flag("reward_weights", *weights)
    for name in ("NUM_GENERATIONS", "MAX_COMPLETION_LENGTH", "NUM_ITERATIONS", "TOP_K"):
        cmd.flag(name.lower(), k.int(name))
    for name in ("TEMPERATURE", "TOP_P", "BETA"):
        cmd.flag(name.lower(), k.number(name))
    cmd.flag("log_completions", str(k.bool("LOG_COMPLETIONS")).lower())
    plan = Plan(cmd)
    if k.bool("USE_VLLM"):
        rollouts(plan, k)
    else:
        cmd.flag("use_vllm", "false")
    needs_rm = any(name in RM_REWARDS for name in funcs)
    url = k.text("GLOBE_RM_URL")
    if needs_rm and url is None and not k.dry_run:
        raise LaunchError("GLOBE_RM_URL is not set: the globe_locatability reward needs the reward model's endpoint. "
                          "Start it with serve_rm.sh (it prints the export line), then "
                          "export GLOBE_RM_URL=http://RM_HOST:8001/v1 and rerun")
    if needs_rm and url is None:
        warn(k, "GLOBE_RM_URL is not set; a real run needs it for globe_locatability")
    cmd.setenv("GLOBE_RM_URL", url)
    cmd.setenv("GLOBE_RM_MODEL", k.text("GLOBE_RM_MODEL"))
    for name in RM_REQUEST_KNOBS:
        cmd.setenv(name, k.value(name))
    extra_args(cmd, k, args)
    plan.create_dir = cmd.argv[cmd.argv.index("--output_dir") + 1]
    return plan


def rollouts(plan: Plan, k: Knobs) -> None:
    """--use_vllm true and the rollout layout: colocated, an external server, or the launcher's own server."""
    cmd = plan.command
    cmd.flag("use_vllm", "true")
    mode, asynchronous = k.choice("VLLM_MODE"), k.bool("ASYNC_GENERATE")
    memory, max_len = k.number("VLLM_GPU_MEMORY_UTILIZATION"), k.int("VLLM_MAX_MODEL_LEN")
    tensor_parallel = k.int("VLLM_TENSOR_PARALLEL_SIZE")
    if mode == "colocate":
        if asynchronous:
            raise LaunchError("ASYNC_GENERATE=true needs VLLM_MODE=server (ms-swift generates asynchronously "
                              "only with a rollout server)")
        cmd.flag("vllm_mode", "colocate")
        cmd.flag("vllm_gpu_memory_utilization", memory)
        cmd.flag("vllm_tensor_parallel_size", tensor_parallel)
        cmd.flag("vllm_max_model_len", max_len)
        cmd.flag("sleep_level", k.int("SLEEP_LEVEL"))
        return
    hosts, ports = k.words("VLLM_SERVER_HOST"), k.ints("VLLM_SERVER_PORT")
    if not hosts and int(k.int("NNODES") or "1") > 1:
        raise LaunchError("the launcher's own rollout server is a one-node layout (ms-swift's first process alone "
                          "talks to the server): with NNODES>1 start one with rollout_server.sh and set "
                          "VLLM_SERVER_HOST, or use VLLM_MODE=colocate")
    if not hosts:  # the released layout: this launcher's own server on the spare GPUs of this node
        train_gpus, rollout_gpus = k.gpus("TRAIN_GPUS"), k.gpus("ROLLOUT_GPUS")
        if not rollout_gpus:
            raise LaunchError("VLLM_MODE=server needs ROLLOUT_GPUS (this launcher starts a rollout server on "
                              "them) or VLLM_SERVER_HOST (a server you started with rollout_server.sh)")
        if set(train_gpus) & set(rollout_gpus):
            raise LaunchError(f"TRAIN_GPUS={','.join(train_gpus)} and ROLLOUT_GPUS={','.join(rollout_gpus)} "
                              "share GPUs: give each its own")
        nproc = k.int("NPROC_PER_NODE")
        if not train_gpus and nproc is not None:
            train_gpus = [str(gpu) for gpu in range(int(nproc) + len(rollout_gpus))
                          if str(gpu) not in rollout_gpus][:int(nproc)]
        if train_gpus and nproc is not None and int(nproc) != len(train_gpus):
            raise LaunchError(f"NPROC_PER_NODE={nproc} but TRAIN_GPUS has {len(train_gpus)} GPUs: make them agree")
        if len(ports) > 1:
            raise LaunchError("VLLM_SERVER_PORT takes one port when the launcher starts its own rollout server")
        tp = int(tensor_parallel or "1")
        if len(rollout_gpus) % tp:
            raise LaunchError(f"ROLLOUT_GPUS has {len(rollout_gpus)} GPUs, not a multiple of "
                              f"VLLM_TENSOR_PARALLEL_SIZE={tp}")
        port = ports[0] if ports else "8000"
        hosts, ports = ["127.0.0.1"], [port]
        server = rollout_command(k, str(len(rollout_gpus) // tp), str(tp), memory, max_len, "127.0.0.1", port)
        server.env = {"CUDA_VISIBLE_DEVICES": ",".join(rollout_gpus), **server.env}
        if train_gpus:
            cmd.env = {"CUDA_VISIBLE_DEVICES": ",".join(train_gpus), **cmd.env}
        plan.server, plan.server_url = server, f"http://127.0.0.1:{port}/health/"
        plan.server_timeout = int(k.int("ROLLOUT_START_TIMEOUT") or "1800")
        plan.note = (f"# started first by this launcher on GPUs {','.join(rollout_gpus)} and stopped when training "
                     f"ends (the released layout: --num_infer_workers {len(rollout_gpus)}):\n{server.render()}")
    cmd.flag("vllm_mode", "server")
    cmd.flag("vllm_server_host", *hosts)
    if ports:
        cmd.flag("vllm_server_port", *ports)
    cmd.flag("async_generate", str(asynchronous).lower())


def rollout_command(k: Knobs, data_parallel: str | None, tensor_parallel: str | None, memory: str | None,
                    max_len: str | None, host: str | None, port: str | None) -> Command:
    """`swift rollout` for this model: used by rollout_server.sh and by GRPO's own server."""
    cmd = Command([k.required("SWIFT_BIN"), "rollout"])
    model_flags(cmd, k, resolve_path(k.required("MODEL") if "MODEL" in k.env else k.family.model))
    cmd.flag("torch_dtype", k.text("TORCH_DTYPE"))
    cmd.flag("vllm_data_parallel_size", data_parallel)
    cmd.flag("vllm_tensor_parallel_size", tensor_parallel)
    cmd.flag("vllm_gpu_memory_utilization", memory)
    cmd.flag("vllm_max_model_len", max_len)
    cmd.flag("host", host)
    cmd.flag("port", port)
    image_env(cmd, k)
    return cmd


def build_rollout(k: Knobs, args: list[str]) -> Plan:
    cmd = rollout_command(k, k.int("DATA_PARALLEL_SIZE"), k.int("TENSOR_PARALLEL_SIZE"),
                          k.number("GPU_MEMORY_UTILIZATION"), k.int("MAX_MODEL_LEN"), k.text("HOST"), k.int("PORT"))
    extra_args(cmd, k, args)
    return Plan(cmd)


def reachable_host(host: str | None) -> str:
    """HOST as other machines dial it (this machine's name for 0.0.0.0 / ::)."""
    if host in (None, "0.0.0.0", "::"):
        import socket

        return socket.getfqdn()
    return host


def build_serve(k: Knobs, args: list[str]) -> Plan:
    policy = k.launcher == SERVE_POLICY
    model = k.required("MODEL") if "MODEL" in k.env else (k.family.released_weights if policy else k.family.model)
    model = resolve_path(model)
    name = k.required("SERVED_MODEL_NAME")
    adapter = None
    if not policy:
        checkpoints = REPO_ROOT / "experiments" / "globe_rm_model"
        adapter = k.text("RM_ADAPTER") if "RM_ADAPTER" in k.env else str(latest_checkpoint(checkpoints) or "")
        if "RM_ADAPTER" not in k.env and not adapter:
            if not k.dry_run:
                raise LaunchError(f"no checkpoint under {checkpoints}: train the reward model with train_rm.sh "
                                  "first, set RM_ADAPTER=<its checkpoint-N folder>, or RM_ADAPTER=none to serve "
                                  "MODEL as it is")
            adapter = str(checkpoints / "vN-DATE-TIME" / "checkpoint-STEP")
            warn(k, f"no checkpoint under {checkpoints} yet; the command shows a placeholder")
        if adapter:
            adapter = resolve_path(adapter)
            if not Path(adapter).is_dir() and not k.dry_run:
                raise LaunchError(f"RM_ADAPTER='{adapter}' is not a directory: train one with train_rm.sh, point "
                                  "RM_ADAPTER at its checkpoint-N folder, or set RM_ADAPTER=none to serve MODEL as "
                                  "it is")
    served = f"{name}-base" if adapter else name  # with a LoRA, the LoRA module carries the name
    host, port = k.text("HOST"), k.required("PORT")
    k.int("PORT")
    if k.choice("SERVE_BACKEND") == "swift":
        cmd = Command([k.required("SWIFT_BIN"), "deploy"])
        model_flags(cmd, k, model)
        cmd.flag("torch_dtype", k.text("TORCH_DTYPE"))
        cmd.flag("infer_backend", k.required("INFER_BACKEND"))
        cmd.flag("served_model_name", served)
        cmd.flag("host", host)
        cmd.flag("port", port)
        cmd.flag("max_new_tokens", k.int("MAX_NEW_TOKENS"))
        image_env(cmd, k)
        if adapter:
            cmd.flag("adapters", f"{name}={adapter}")
    else:
        cmd = Command([k.required("VLLM_BIN"), "serve", model])
        cmd.flag("served-model-name", served)
        cmd.flag("host", host)
        cmd.flag("port", port)
        cmd.flag("max-model-len", k.int("MAX_MODEL_LEN"))
        cmd.flag("tensor-parallel-size", k.int("TENSOR_PARALLEL_SIZE"))
        cmd.flag("gpu-memory-utilization", k.number("GPU_MEMORY_UTILIZATION"))
        pixels = k.int("MAX_PIXELS")
        mm = k.text("MM_PROCESSOR_KWARGS") if "MM_PROCESSOR_KWARGS" in k.env else (
            f'{{"max_pixels": {pixels}}}' if pixels and k.family.max_pixels else None)
        cmd.flag("mm-processor-kwargs", mm)
        cmd.argv.append("--trust-remote-code")  # InternVL3 ships its own model code
        if adapter:
            cmd.argv += ["--enable-lora", "--lora-modules", f"{name}={adapter}",
                         "--max-lora-rank", k.required("MAX_LORA_RANK")]
            k.int("MAX_LORA_RANK")
    extra_args(cmd, k, args)
    address = f"http://{reachable_host(host)}:{port}"
    if policy:
        note = (f"# When the server answers (curl {address}/v1/models), evaluate with\n"
                "#   python examples/train/grpo/globe/eval.py --dataset im2gps3k --use-cot --output preds.csv\n"
                f"# after:\nexport GLOBE_EVAL_URL={address}/v1")
    else:
        note = (f"# When the server answers (curl {address}/v1/models), point the locatability\n"
                f"# reward at it, on every training node:\nexport GLOBE_RM_URL={address}/v1\n"
                f"export GLOBE_RM_MODEL={name}")
    return Plan(cmd, note=note)


BUILDERS: dict[str, Callable[[Knobs, list[str]], Plan]] = {
    SFT: build_sft, RM: build_sft, ONE: build_grpo, TWO: build_grpo, ALL: build_grpo,
    ROLLOUT: build_rollout, SERVE_POLICY: build_serve, SERVE_RM: build_serve,
}


def plan_for(launcher: str, env: Mapping[str, str], args: list[str] = ()) -> tuple[Knobs, Plan]:
    """Check the knobs and build what ``launcher`` would run (no side effects)."""
    k = Knobs(launcher, env)
    return k, BUILDERS[launcher](k, list(args))


# --------------------------------------------------------------------------- running


def warn(k: Knobs, message: str) -> None:
    print(f"{k.launcher}.sh: warning: {message}", file=sys.stderr)


def run(plan: Plan, k: Knobs) -> int:
    """Print the plan; unless DRY_RUN, run it (own rollout server first, stopped whatever happens)."""
    dry = k.dry_run
    print(f"# {k.launcher}.sh" + (" (DRY_RUN=1: printed, not run)" if dry else ": running"))
    overridden = sorted(name for name in recipe_knobs(k.launcher) if name in k.env)
    print(f"# RECIPE={k.recipe}" + (f" (set by you: {' '.join(overridden)})" if overridden else ""))
    print(plan.command.render())
    if plan.note:
        print(f"\n{plan.note}")
    sys.stdout.flush()
    if dry:
        return 0
    program = plan.command.argv[0]
    if shutil.which(program) is None:
        raise LaunchError(f"'{program}' is not on PATH: pip install -r requirements_globe.txt (see README.md)")
    if plan.create_dir:
        Path(plan.create_dir).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **plan.command.env}
    if plan.server is None:
        os.execvpe(program, plan.command.argv, env)
    return run_with_server(plan, env)


def run_with_server(plan: Plan, env: dict[str, str]) -> int:
    """Start the rollout server, wait until it answers, train, and stop the server in every case."""
    server = subprocess.Popen(plan.server.argv, env={**os.environ, **plan.server.env}, start_new_session=True)
    trainer = None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def forward(signum: int, _frame: Any) -> None:
        if trainer is not None and trainer.poll() is None:
            trainer.send_signal(signum)
        raise KeyboardInterrupt

    for sig in previous:
        signal.signal(sig, forward)
    try:
        wait_until_up(plan.server_url, server, plan.server_timeout)
        trainer = subprocess.Popen(plan.command.argv, env=env)
        return trainer.wait()
    except KeyboardInterrupt:
        if trainer is not None:
            trainer.wait()
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop(server)


def wait_until_up(url: str, server: subprocess.Popen, timeout: int) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise LaunchError(f"the rollout server exited with {server.returncode} before it answered {url}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(2)
    raise LaunchError(f"the rollout server did not answer {url} within {timeout} s (ROLLOUT_START_TIMEOUT)")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# --------------------------------------------------------------------------- documentation


def recipe_table() -> str:
    """The README's recipe table: every knob whose default depends on RECIPE."""
    rows: dict[tuple[str, str, str, str], list[str]] = {}
    for launcher in LAUNCHERS:
        for name, recipe in recipe_knobs(launcher).items():
            rows.setdefault((name, show(recipe.released), show(recipe.globe), recipe.why), []).append(launcher)
    lines = ["| knob | launchers | released | GLOBE | why GLOBE differs |", "|---|---|---|---|---|"]
    for (name, released, globe, why), launchers in rows.items():
        lines.append(f"| `{name}` | {scope(launchers)} | {released} | {globe} | {why} |")
    return "\n".join(lines)


def knob_table() -> str:
    """The README's knob reference: every knob, its type, its defaults per launcher, what it does."""
    lines = ["| knob | type | default (`RECIPE=released`) | meaning |", "|---|---|---|---|"]
    for name, knob in KNOBS.items():
        kind = " \\| ".join(f"`{choice}`" for choice in knob.choices) if knob.choices else knob.kind
        if isinstance(knob.default, dict):
            by_value: dict[str, list[str]] = {}
            for launcher in LAUNCHERS:
                default = launcher_default(knob, launcher)
                if default is not NOT_DECLARED:
                    value = "recipe table" if isinstance(default, Recipe) else show(default)
                    by_value.setdefault(value, []).append(launcher)
            default = "; ".join(f"{value} ({scope(launchers)})" for value, launchers in by_value.items())
        else:
            default = "unset" if knob.default is None else show(knob.default)
        lines.append(f"| `{name}` | {kind} | {default} | {knob.help} |")
    return "\n".join(lines)


def show(value: str | None) -> str:
    if value == FAMILY_PIXELS:
        return "`1003520` (Qwen; InternVL: none)"
    return "none" if value is None else f"`{value}`"


def scope(launchers: list[str]) -> str:
    for group, members in (("all", LAUNCHERS), ("training", TRAINING), ("GRPO", GRPO)):
        if tuple(launchers) == members:
            return group
    if set(GRPO) <= set(launchers):
        launchers = ["GRPO"] + [name for name in launchers if name not in GRPO]
    return ", ".join(launchers)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--recipe-table"], ["--knob-table"]):
        print(recipe_table() if argv[0] == "--recipe-table" else knob_table())
        return 0
    if not argv or argv[0].removesuffix(".sh") not in LAUNCHERS:
        print(f"usage: launch.py {{{','.join(LAUNCHERS)}}} [extra swift flags...] | --recipe-table | --knob-table", file=sys.stderr)
        return 2
    launcher = argv[0].removesuffix(".sh")
    try:
        k, plan = plan_for(launcher, os.environ, argv[1:])
        return run(plan, k)
    except LaunchError as exc:
        print(f"{launcher}.sh: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
