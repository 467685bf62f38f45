"""Fidelity: the launcher scripts' RECIPE=released commands are the paper's released commands, translated.

The released scripts' flags are test data (``tests/data/released/flags.json``, with their source).
:data:`TRANSLATION` turns them into ms-swift 4.x, one named rule per difference; the result must
equal, flag for flag and variable for variable, the commands each script itself prints with
``DRY_RUN=1`` (its rollout server included). Each rule must have its row in the README's
translation table, so a script value that changes without a documented reason fails here.

RECIPE=globe must differ from RECIPE=released by exactly the recipe table (the rows of
``recipe_globe.sh``, printed verbatim in the README): setting every recipe knob to its released
value under RECIPE=globe gives the released commands, and the other way round.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from globe import launch
from test_launchers import Printed, dry_run, run_launcher  # tests/unit is on sys.path

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASED = json.loads((REPO_ROOT / "tests" / "data" / "released" / "flags.json").read_text())
README = (REPO_ROOT / "examples" / "train" / "grpo" / "globe" / "README.md").read_text()
FIDELITY_LAUNCHERS = ["train_sft", "train_rm", "train_one_reward", "train_two_rewards", "train_all_rewards"]


@dataclass
class Run:
    """A command as flags (name -> values, the last occurrence wins, as in argparse) and its environment."""

    program: list[str]
    flags: dict[str, list[str]]
    env: dict[str, str]
    server: "Run | None" = None
    applied: list[str] = field(default_factory=list)


def released_run(launcher: str) -> Run:
    script = RELEASED[launcher]
    flags: dict[str, list[str]] = {}
    for flag, *values in script["flags"]:
        flags[flag.removeprefix("--")] = values
    return Run(list(script["program"]), flags, dict(script["env"]))


def printed_run(printed: Printed) -> Run:
    program, flags, name = printed.argv[:2], {}, None
    for word in printed.argv[2:]:
        if word.startswith("--"):
            name = word.removeprefix("--")
            flags[name] = []
        else:
            flags[name].append(word)
    server = printed_run(printed.server) if printed.server is not None else None
    return Run(program, flags, dict(printed.env), server)


# --------------------------------------------------------------------------- 3.x -> 4.x, one rule per difference


@dataclass(frozen=True)
class Rule:
    """One difference between a released script and our RECIPE=released command.

    ``readme`` is the released side as the README's translation table spells it (its first column).
    """

    name: str
    readme: str
    apply: Callable[[str, Run], bool]  # (launcher, run) -> whether the rule changed anything


def rename_train_type(launcher: str, run: Run) -> bool:
    run.flags["tuner_type"] = run.flags.pop("train_type")
    return True


def plugins_from_globe(launcher: str, run: Run) -> bool:
    released = run.flags.pop("external_plugins", []) + run.flags.pop("custom_register_path")
    run.flags["external_plugins"] = [f"globe/{Path(path).name}" for path in released]
    return True


DATASETS = {("train_sft", "data/mp16-reason-train"): "mp16-reason-sft",
            ("train_rm", "data/geo_loc_rm_20w"): "mp16-reason-rm"}


def registered_dataset_names(launcher: str, run: Run) -> bool:
    run.flags["dataset"] = [DATASETS.get((launcher, name), name.removeprefix("data/")) for name in run.flags["dataset"]]
    return True


REWARD_NAMES = {"globe_accuracy": "globe_accuracy_released", "globe_visual_match": "globe_visual_match_released",
                "globe_locatablity": "globe_locatability"}


def reward_names(launcher: str, run: Run) -> bool:
    if "reward_funcs" not in run.flags:
        return False
    run.flags["reward_funcs"] = [REWARD_NAMES.get(name, name) for name in run.flags["reward_funcs"]]
    return True


def rollout_server_on_the_spare_gpus(launcher: str, run: Run) -> bool:
    """3.x ``--num_infer_workers N`` beside NPROC_PER_NODE trainers -> 4.x server mode, the server started by us."""
    if "num_infer_workers" not in run.flags:
        return False
    workers = int(run.flags.pop("num_infer_workers")[0])
    trainers = int(run.env["NPROC_PER_NODE"])
    assert run.flags.pop("vllm_device") == ["auto"]
    server_flags = {
        "model": run.flags["model"], "model_type": ["qwen2_5_vl"], "template": ["qwen2_5_vl"],
        "torch_dtype": run.flags["torch_dtype"], "vllm_data_parallel_size": [str(workers)],
        "vllm_tensor_parallel_size": ["1"],
        "vllm_gpu_memory_utilization": run.flags.pop("vllm_gpu_memory_utilization"),
        "vllm_max_model_len": run.flags.pop("vllm_max_model_len"),
        "host": ["127.0.0.1"], "port": ["8000"],
    }
    run.server = Run(["swift", "rollout"], server_flags,
                     {"CUDA_VISIBLE_DEVICES": ",".join(map(str, range(trainers, trainers + workers)))})
    run.env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(trainers)))
    run.flags.update(vllm_mode=["server"], vllm_server_host=["127.0.0.1"], vllm_server_port=["8000"])
    return True


def ms_swift_3_defaults(launcher: str, run: Run) -> bool:
    """Defaults ms-swift 4.x changed, written out with their 3.x values."""
    run.flags.setdefault("split_dataset_ratio", ["0.01"])
    if run.flags.get("rlhf_type") == ["grpo"]:
        run.flags.setdefault("top_k", ["50"])
        run.flags.setdefault("top_p", ["0.9"])
    return True


def unchanged_defaults_written_out(launcher: str, run: Run) -> bool:
    """Values both 3.x and 4.x take by default (model_type/template: inferred from the model id)."""
    for flag, value in (("model_type", "qwen2_5_vl"), ("template", "qwen2_5_vl"), ("freeze_vit", "true"),
                        ("freeze_aligner", "true"), ("gradient_checkpointing", "true")):
        run.flags.setdefault(flag, [value])
    return True


def all_gpus_unset(launcher: str, run: Run) -> bool:
    if run.env.get("CUDA_VISIBLE_DEVICES") != "0,1,2,3,4,5,6,7":
        return False
    del run.env["CUDA_VISIBLE_DEVICES"]
    return True


RELEASED_RM_REQUEST = {"GLOBE_RM_INPUT": "completion", "GLOBE_RM_TEMPERATURE": "0.6", "GLOBE_RM_MAX_TOKENS": "5",
                       "GLOBE_RM_VERDICT": "released", "GLOBE_RM_NO_VERDICT": "zero", "GLOBE_RM_FALLBACK": "0.0"}


def rm_request_as_variables(launcher: str, run: Run) -> bool:
    if "globe_locatability" not in run.flags.get("reward_funcs", []):
        return False
    run.env.update(RELEASED_RM_REQUEST)
    return True


TRANSLATION: list[Rule] = [
    # the last --max_length is the one argparse kept (released_run reads flags that way)
    Rule("duplicate flags", "`--max_length 8192` ... `--max_length 2048`", lambda launcher, run: True),
    Rule("tuner type", "`--train_type`", rename_train_type),
    Rule("plugins", "`--external_plugins examples/train/grpo/geo/plugin.py`", plugins_from_globe),
    Rule("datasets", "`--dataset data/...`", registered_dataset_names),
    Rule("reward names", "`--reward_funcs globe_accuracy ...`", reward_names),
    Rule("rollout layout", "`--num_infer_workers 2`", rollout_server_on_the_spare_gpus),
    Rule("4.x defaults", "(ms-swift 3.x defaults)", ms_swift_3_defaults),
    Rule("written-out defaults", "(defaults in both)", unchanged_defaults_written_out),
    Rule("all GPUs", "`CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7`", all_gpus_unset),
    Rule("reward model request", "(hard-coded in the released plugin)", rm_request_as_variables),
]


def translate(launcher: str) -> Run:
    run = released_run(launcher)
    for rule in TRANSLATION:
        if rule.apply(launcher, run):
            run.applied.append(rule.name)
    return run


def ours(launcher: str, tmp_path: Path, **knobs: str) -> Run:
    """What the script prints: its command, and the rollout server it starts first (parsed from DRY_RUN=1)."""
    return printed_run(dry_run(f"{launcher}.sh", tmp_path, **knobs))


def differences(expected: Run | None, actual: Run | None, where: str = "") -> list[str]:
    if expected is None or actual is None:
        return [] if expected is actual else [f"{where}rollout server: released {expected}, ours {actual}"]
    found = [f"{where}program: released {expected.program}, ours {actual.program}"] * (expected.program != actual.program)
    for kind, left, right in (("--", expected.flags, actual.flags), ("$", expected.env, actual.env)):
        for name in sorted(set(left) | set(right)):
            if left.get(name) != right.get(name):
                found.append(f"{where}{kind}{name}: released {left.get(name)!r}, ours {right.get(name)!r}")
    return found + differences(expected.server, actual.server, "rollout server ") * (where == "")


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("launcher", FIDELITY_LAUNCHERS)
def test_released_recipe_is_the_released_script_translated(launcher: str, tmp_path: Path) -> None:
    found = differences(translate(launcher), ours(launcher, tmp_path))
    assert found == [], (
        f"{launcher}.sh departs from the released script where no translation rule says so. Either restore the "
        "released value, or add a rule to TRANSLATION and a row to the README's translation table:\n"
        + "\n".join(found))


def test_every_translation_rule_is_used_and_has_its_readme_row() -> None:
    used = {name for launcher in FIDELITY_LAUNCHERS for name in translate(launcher).applied}
    assert used == {rule.name for rule in TRANSLATION}
    section = README.split("### From the released scripts to ms-swift 4.x", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    missing = [rule.readme for rule in TRANSLATION if not any(line.startswith(f"| {rule.readme} |") for line in rows)]
    assert missing == []
    assert len(rows) - 1 == len(TRANSLATION)  # the header: no row without its rule either


def test_readme_tables_are_the_launchers_tables() -> None:
    assert launch.recipe_table() in README
    assert launch.knob_table() in README


def recipe_values(launcher: str, recipe: str) -> dict[str, str]:
    """Every recipe knob of ``launcher`` set to its value in ``recipe`` (the README table's columns), on
    the default family (Qwen2.5-VL: its image budget is MAX_PIXELS)."""
    shell = {"$FAMILY_BUDGET_ENV": "MAX_PIXELS", "$FAMILY_BUDGET": "1003520", "$RELEASED_RL_BUDGET": "none", "": "none"}
    values = {}
    for launchers, knob, globe, _why in launch.recipe_rows():
        if launcher in launchers:
            value = globe if recipe == "globe" else launch.released_default(launcher, knob)
            values[shell.get(knob, knob)] = shell.get(value, value)
    return values


def command_text(stdout: str) -> str:
    """The printed commands without the header lines (they name the recipe and your overrides)."""
    return "\n".join(line for line in stdout.splitlines() if not line.startswith("# "))


@pytest.mark.parametrize("launcher", launch.LAUNCHERS)
@pytest.mark.parametrize(("recipe", "other"), [("globe", "released"), ("released", "globe")])
def test_recipes_differ_by_exactly_the_recipe_table(launcher: str, recipe: str, other: str, tmp_path: Path) -> None:
    """RECIPE=X with every recipe knob at Y's value prints exactly RECIPE=Y's commands."""
    knobs = {"GLOBE_RM_URL": "http://rm:8001/v1", "RM_ADAPTER": "none"}
    converted = run_launcher(f"{launcher}.sh", tmp_path, RECIPE=recipe, **knobs, **recipe_values(launcher, other))
    native = run_launcher(f"{launcher}.sh", tmp_path, RECIPE=other, **knobs)
    assert converted.returncode == native.returncode == 0, converted.stderr + native.stderr
    assert command_text(converted.stdout) == command_text(native.stdout)


@pytest.mark.parametrize("launcher", launch.LAUNCHERS)
def test_each_recipe_row_changes_the_command(launcher: str, tmp_path: Path) -> None:
    """No row without a difference: each GLOBE value alone changes the released command (or is refused
    because it only works together with another row, e.g. colocated vLLM with asynchronous generation)."""
    knobs = {"GLOBE_RM_URL": "http://rm:8001/v1", "RM_ADAPTER": "none"}
    released = run_launcher(f"{launcher}.sh", tmp_path, **knobs)
    silent = [name for name, value in recipe_values(launcher, "globe").items()
              if (changed := run_launcher(f"{launcher}.sh", tmp_path, **knobs, **{name: value})).returncode == 0
              and command_text(changed.stdout) == command_text(released.stdout)]
    assert silent == []


def test_the_translation_has_teeth(tmp_path: Path) -> None:
    """A changed launcher value shows up as a difference naming the flag."""
    found = differences(translate("train_one_reward"), ours("train_one_reward", tmp_path, NUM_GENERATIONS="8"))
    assert found == ["--num_generations: released ['16'], ours ['8']"]


def test_released_reward_model_request_is_the_rm_clients_default() -> None:
    """The all-rewards script's released RM request equals what globe.locatability does unset, and the
    GLOBE column is accepted by it: the two layers cannot drift apart silently."""
    from globe.locatability import LocatabilityConfig

    released = {name: value for name, value in recipe_values("train_all_rewards", "released").items()
                if name.startswith("GLOBE_RM_")}
    globe = {name: value for name, value in recipe_values("train_all_rewards", "globe").items()
             if name.startswith("GLOBE_RM_")}
    assert set(released) >= {"GLOBE_RM_INPUT", "GLOBE_RM_TEMPERATURE", "GLOBE_RM_MAX_TOKENS", "GLOBE_RM_VERDICT",
                             "GLOBE_RM_NO_VERDICT", "GLOBE_RM_FALLBACK"}
    unset = LocatabilityConfig.from_env({"GLOBE_RM_URL": "http://rm:8001/v1"})
    assert LocatabilityConfig.from_env({"GLOBE_RM_URL": "http://rm:8001/v1", **released}) == unset
    configured = LocatabilityConfig.from_env({"GLOBE_RM_URL": "http://rm:8001/v1", **globe})
    assert (configured.input, configured.temperature, configured.max_tokens, configured.no_verdict,
            configured.fallback) == ("reasoning", 0.0, 3, "text", 0.5)


def test_readme_says_where_a_grpo_default_is_changed() -> None:
    """The README's "how to change a GRPO default" names a line that is in each GRPO script as written."""
    section = README.split("### How to change a GRPO default", 1)[1].split("\n#", 1)[0]
    line = re.search(r"`(--top_k \d+) \\`", section).group(1)
    for launcher in ("train_one_reward", "train_two_rewards", "train_all_rewards"):
        assert f"\n    {line} \\\n" in (launch.LAUNCHER_DIR / f"{launcher}.sh").read_text()
