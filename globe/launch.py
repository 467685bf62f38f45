"""What the launchers in ``examples/train/grpo/globe/`` leave to Python: knob checks, family lookup, docs.

Each launcher is a plain shell script that shows its whole ``swift``/``vllm`` command; this module
does only what shell does badly: check each knob's type and the combinations that cannot work,
with a message naming the knob (``check``); print a model family of ``globe/families.py`` as shell
variables (``family``); find the newest reward-model checkpoint (``latest-checkpoint``); and
generate README.md's recipe and knob tables from the scripts themselves. The rollout server's
start and stop are ``globe/processes.py``. Standard library only: run by path from a bare checkout.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

if __package__:
    from . import families
else:  # python3 globe/launch.py from a checkout: this folder is sys.path[0]
    import families

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER_DIR = REPO_ROOT / "examples" / "train" / "grpo" / "globe"
GRPO = ("train_one_reward", "train_two_rewards", "train_all_rewards")
LAUNCHERS = ("train_sft", "train_rm", *GRPO, "rollout_server", "serve_policy", "serve_rm")
RM_REWARDS = ("globe_locatability", "globe_locatablity")  # the reward that asks the served reward model
RM_PLACEHOLDER = "vN-DATE-TIME/checkpoint-STEP"
NO_BUDGET_ENV = "GLOBE_NO_IMAGE_BUDGET"  # FAMILY_BUDGET_ENV of a family no variable gives a budget

#: Each knob's kind: int, number, bool, text, words, numbers, ints, gpus, or choices "a|b". A knob a
#: script declares as ``${NAME-default}`` (no colon) may be empty or "none": its flag is then left out.
KINDS: dict[str, str] = {
    "RECIPE": "released|globe", "MODEL_FAMILY": "|".join(families.FAMILIES), "DRY_RUN": "bool",
    "EXTRA_ARGS": "text",
    "MODEL": "text", "MODEL_TYPE": "text", "TEMPLATE": "text", "IMAGE_BUDGET": "int", "TORCH_DTYPE": "text", "TUNER_TYPE": "full|lora",
    "DATASET": "words", "OUTPUT_DIR": "text", "NPROC_PER_NODE": "int",
    "NNODES": "int", "NODE_RANK": "int", "MASTER_ADDR": "text", "MASTER_PORT": "int",
    "DEEPSPEED": "text", "BATCH_SIZE": "int", "GRAD_ACCUM": "int", "MAX_STEPS": "int", "SAVE_STEPS": "int",
    "GRADIENT_CHECKPOINTING": "bool",
    "ACCURACY_REWARD": "text", "VISUAL_MATCH_REWARD": "text", "FORMAT_REWARD": "text", "REWARD_FUNCS": "words",
    "REWARD_WEIGHTS": "numbers", "NUM_GENERATIONS": "int", "MAX_COMPLETION_LENGTH": "int",
    "USE_VLLM": "bool", "VLLM_MODE": "server|colocate", "ASYNC_GENERATE": "bool", "TRAIN_GPUS": "gpus",
    "ROLLOUT_GPUS": "gpus", "VLLM_GPU_MEMORY_UTILIZATION": "number", "VLLM_MAX_MODEL_LEN": "int",
    "VLLM_TENSOR_PARALLEL_SIZE": "int", "VLLM_SERVER_HOST": "words", "VLLM_SERVER_PORT": "ints",
    "ROLLOUT_START_TIMEOUT": "int",
    "GLOBE_RM_URL": "text", "GLOBE_RM_MODEL": "text", "GLOBE_RM_INPUT": "completion|reasoning",
    "GLOBE_RM_TEMPERATURE": "number", "GLOBE_RM_MAX_TOKENS": "int", "GLOBE_RM_VERDICT": "released|globe",
    "GLOBE_RM_NO_VERDICT": "zero|text", "GLOBE_RM_FALLBACK": "number",
    "SERVE_BACKEND": "vllm|swift", "SERVED_MODEL_NAME": "text", "HOST": "text", "PORT": "int",
    "MAX_MODEL_LEN": "int", "TENSOR_PARALLEL_SIZE": "int", "DATA_PARALLEL_SIZE": "int",
    "GPU_MEMORY_UTILIZATION": "number", "MM_PROCESSOR_KWARGS": "text", "RM_ADAPTER": "text",
    "MAX_LORA_RANK": "int", "INFER_BACKEND": "text", "MAX_NEW_TOKENS": "int", "KEEP_ALIVE_S": "int",
}
NUMBER = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
WHOLE = re.compile(r"-?[0-9]+")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
#: ``NAME=${NAME:-default}  # meaning`` (or ``${NAME-default}``): how a launcher declares a knob
KNOB_LINE = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)=\$\{(?:(?P=name)|!FAMILY_BUDGET_ENV)(?P<op>:?-)(?P<default>[^}]*)\}"
                       r"\s*(?:#\s*(?P<help>.*))?$")


class LaunchError(Exception):
    """A knob or combination of knobs the launcher refuses; the message names it and the fix."""


# --------------------------------------------------------------------------- which knobs a launcher has


def script(launcher: str) -> Path:
    return LAUNCHER_DIR / f"{launcher}.sh"


def declared_knobs(path: Path) -> dict[str, dict[str, str]]:
    """The knobs a script declares, in order: name -> {"default", "help", "optional"}."""
    knobs = {}
    for line in path.read_text().splitlines():
        match = KNOB_LINE.match(line)
        if match:
            knobs[match["name"]] = {"default": match["default"], "help": match["help"] or "",
                                    "optional": str(match["op"] == "-")}
    return knobs


def launcher_knobs(launcher: str) -> dict[str, dict[str, str]]:
    """Every knob ``launcher`` reads, as declared: common.sh's, then its own."""
    return {**declared_knobs(LAUNCHER_DIR / "common.sh"), **declared_knobs(script(launcher))}


# --------------------------------------------------------------------------- checks


class Knobs:
    """Knob values as the script set them, checked by kind; errors name the knob."""

    def __init__(self, env: Mapping[str, str], declared: Mapping[str, Mapping[str, str]]):
        self.env, self.names = env, list(declared)
        self.optional = {name for name, knob in declared.items() if knob["optional"] == "True" or not knob["default"]}

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip().lower() in ("", "none"):
            return None
        return value.strip()

    def label(self, name: str) -> str:
        return self.env.get("FAMILY_BUDGET_ENV", name) if name == "IMAGE_BUDGET" else name

    def check(self, name: str) -> str | list[str] | bool | None:
        """``name``'s value in its kind (lists for words/numbers/ints/gpus); None when empty."""
        kind, optional = KINDS[name], name in self.optional
        value = self.raw(name)
        if value is None:
            if not optional and name in self.env:
                raise LaunchError(f"{self.label(name)} is empty: it has no default to fall back on, set it")
            return [] if kind in ("words", "numbers", "ints", "gpus") else None
        label = f"{self.label(name)}='{self.env[name]}'"
        if kind == "int" and not WHOLE.fullmatch(value):
            raise LaunchError(f"{label} is not a whole number")
        if kind == "number" and not NUMBER.fullmatch(value):
            raise LaunchError(f"{label} is not a number")
        if kind == "bool":
            if value.lower() not in TRUE + FALSE:
                raise LaunchError(f"{label} is not a boolean: use true or false")
            return value.lower() in TRUE
        if "|" in kind and value not in kind.split("|"):
            raise LaunchError(f"{label} is not one of: {', '.join(kind.split('|'))}")
        if kind == "gpus":
            if not re.fullmatch(r"[0-9]+(,[0-9]+)*", value):
                raise LaunchError(f"{label} is not a comma-separated list of GPU numbers (e.g. 6,7)")
            return value.split(",")
        if kind in ("words", "numbers", "ints"):
            words = value.split()
            pattern = {"numbers": NUMBER, "ints": WHOLE}.get(kind)
            bad = [word for word in words if pattern and not pattern.fullmatch(word)]
            if bad:
                what = "a number" if kind == "numbers" else "a whole number"
                raise LaunchError(f"{name} has '{bad[0]}', which is not {what}")
            return words
        return value

    def normalised(self) -> list[str]:
        """Shell assignments that make booleans true/false and empty every optional knob set to none."""
        lines = []
        for name in self.names:
            if name not in self.env:
                continue
            value = self.check(name)
            if isinstance(value, bool):
                lines.append(f"{name}={str(value).lower()}")
            elif value in (None, []) and self.env[name] != "":
                lines.append(f"{name}=''")
        return lines


def warn(launcher: str, message: str) -> None:
    print(f"{launcher}.sh: warning: {message}", file=sys.stderr)


def check_grpo(k: Knobs, launcher: str, dry_run: bool) -> None:
    """Rewards against weights, the rollout layout, and the reward model's URL."""
    funcs, weights = k.check("REWARD_FUNCS"), k.check("REWARD_WEIGHTS")
    if len(funcs) != len(weights):
        raise LaunchError(f"REWARD_FUNCS has {len(funcs)} reward(s) ({' '.join(funcs)}) but REWARD_WEIGHTS has "
                          f"{len(weights)} weight(s) ({' '.join(weights)}): give one weight per reward, in order")
    if k.check("USE_VLLM"):
        check_rollouts(k)
    if any(name in RM_REWARDS for name in funcs) and k.check("GLOBE_RM_URL") is None:
        if not dry_run:
            raise LaunchError("GLOBE_RM_URL is not set: the globe_locatability reward needs the reward model's "
                              "endpoint. Start it with serve_rm.sh (it prints the export line), then "
                              "export GLOBE_RM_URL=http://RM_HOST:8001/v1 and rerun")
        warn(launcher, "GLOBE_RM_URL is not set; a real run needs it for globe_locatability")


def check_rollouts(k: Knobs) -> None:
    """VLLM_MODE=colocate, or server mode with an external server (VLLM_SERVER_HOST) or the launcher's own."""
    if k.check("VLLM_MODE") == "colocate":
        if k.check("ASYNC_GENERATE"):
            raise LaunchError("ASYNC_GENERATE=true needs VLLM_MODE=server (ms-swift generates asynchronously "
                              "only with a rollout server)")
        return
    if k.check("VLLM_SERVER_HOST"):
        return
    if int(k.check("NNODES") or "1") > 1:
        raise LaunchError("the launcher's own rollout server is a one-node layout (ms-swift's first process alone "
                          "talks to the server): with NNODES>1 start one with rollout_server.sh and set "
                          "VLLM_SERVER_HOST, or use VLLM_MODE=colocate")
    train, rollout = k.check("TRAIN_GPUS"), k.check("ROLLOUT_GPUS")
    if not rollout:
        raise LaunchError("VLLM_MODE=server needs ROLLOUT_GPUS (this launcher starts a rollout server on them) or "
                          "VLLM_SERVER_HOST (a server you started with rollout_server.sh)")
    if set(train) & set(rollout):
        raise LaunchError(f"TRAIN_GPUS={','.join(train)} and ROLLOUT_GPUS={','.join(rollout)} share GPUs: "
                          "give each its own")
    nproc = int(k.check("NPROC_PER_NODE"))
    if train and len(train) != nproc:
        raise LaunchError(f"NPROC_PER_NODE={nproc} but TRAIN_GPUS has {len(train)} GPUs: make them agree")
    if len(k.check("VLLM_SERVER_PORT")) != 1:
        raise LaunchError("VLLM_SERVER_PORT takes one port when the launcher starts its own rollout server")
    tensor_parallel = int(k.check("VLLM_TENSOR_PARALLEL_SIZE"))
    if tensor_parallel < 1 or len(rollout) % tensor_parallel:
        raise LaunchError(f"ROLLOUT_GPUS has {len(rollout)} GPUs, not a multiple of "
                          f"VLLM_TENSOR_PARALLEL_SIZE={tensor_parallel}")


def check_rm_adapter(k: Knobs, launcher: str, dry_run: bool) -> None:
    adapter = k.check("RM_ADAPTER")
    if adapter is None:
        return
    if adapter.endswith(RM_PLACEHOLDER):
        if not dry_run:
            raise LaunchError(f"no checkpoint under {Path(adapter).parent.parent}: train the reward model with "
                              "train_rm.sh first, set RM_ADAPTER=<its checkpoint-N folder>, or RM_ADAPTER=none to "
                              "serve MODEL as it is")
        warn(launcher, f"no checkpoint under {Path(adapter).parent.parent} yet; the command shows a placeholder")
    elif not dry_run and not Path(adapter).is_dir():
        raise LaunchError(f"RM_ADAPTER='{adapter}' is not a directory: train one with train_rm.sh, point RM_ADAPTER "
                          "at its checkpoint-N folder, or set RM_ADAPTER=none to serve MODEL as it is")


def check(launcher: str, env: Mapping[str, str]) -> list[str]:
    """Check ``launcher``'s knobs as set in ``env``; return the shell lines that normalise them."""
    k = Knobs(env, launcher_knobs(launcher))
    lines = k.normalised()  # every knob's own kind first
    dry_run = bool(k.check("DRY_RUN"))
    if launcher in GRPO:
        check_grpo(k, launcher, dry_run)
    if launcher == "serve_rm":
        check_rm_adapter(k, launcher, dry_run)
    return lines


# --------------------------------------------------------------------------- families and checkpoints


def family_variables(name: str) -> list[str]:
    """The family's entry as FAMILY_* shell assignments (the launchers eval them)."""
    try:
        entry = families.family(name)
    except ValueError:
        raise LaunchError(f"MODEL_FAMILY='{name}' is not one of: {', '.join(families.FAMILIES)}") from None
    tiles = entry.budget_env == "MAX_NUM"
    scale = 1 if entry.budget_env in ("MAX_PIXELS", "MAX_NUM") else entry.token_pixels ** 2
    budget = "" if entry.budget_env is None or entry.budget_value is None else str(entry.budget_value)
    values = {
        "FAMILY_MODEL": entry.model, "FAMILY_MODEL_TYPE": entry.model_type, "FAMILY_TEMPLATE": entry.template,
        # a family whose processor sets its own budget names a variable nothing reads, left empty
        "FAMILY_BUDGET_ENV": entry.budget_env or NO_BUDGET_ENV, "FAMILY_BUDGET": budget,
        "FAMILY_WEIGHTS": entry.released_weights or entry.model,
        # vLLM reads the budget from --mm-processor-kwargs: Qwen's processors in pixels, InternVL's in tiles
        "FAMILY_VLLM_BUDGET_KEY": "max_dynamic_patch" if tiles else "max_pixels",
        "FAMILY_VLLM_BUDGET_SCALE": str(scale),
    }
    lines = [f"{key}={shlex.quote(value)}" for key, value in values.items()]
    lines.append(f"FAMILY_FLAGS=({' '.join(shlex.quote(flag) for flag in entry.extra_flags)})")
    return lines


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint ms-swift wrote under ``folder`` (highest vN, then highest step)."""
    def key(path: Path) -> tuple[int, int]:
        version = re.match(r"v(\d+)", path.parent.name)
        return (int(version.group(1)) if version else -1, int(path.name.split("-")[1]))

    found = [path for path in folder.glob("*/checkpoint-*")
             if path.is_dir() and re.fullmatch(r"checkpoint-\d+", path.name)] if folder.is_dir() else []
    return max(found, key=key) if found else None


# --------------------------------------------------------------------------- README tables


RECIPE_ROW = re.compile(r'^globe_differs (\S+) (\S+) (\S+)\s*\\?\s*\n?\s*"((?:[^"\\]|\\.)*)"', re.M)


def recipe_rows() -> list[tuple[list[str], str, str, str]]:
    """recipe_globe.sh's rows: (launchers, knob, GLOBE value, why), shell variables left as written."""
    text = (LAUNCHER_DIR / "recipe_globe.sh").read_text()
    reasons = dict(re.findall(r'^(\w+)="((?:[^"\\]|\\.)*)"$', text, re.M))
    rows = []
    for scope, knob, value, why in RECIPE_ROW.findall(text):
        launchers = [name for part in scope.split(",") for name in (GRPO if part == "grpo" else (part,))]
        why = re.sub(r'^\$(\w+)$', lambda m: reasons[m[1]], why).replace('\\"', '"').replace("\\`", "`")
        rows.append((launchers, knob.strip('"'), value.strip('"'), why))
    return rows


def family_budgets() -> str:
    """The GLOBE column of the image-budget row; the other families' values are globe/families.py's to list."""
    paper = families.FAMILIES[families.DEFAULT_FAMILY]
    return (f"`{paper.budget_env}={paper.budget_value}` on {families.DEFAULT_FAMILY}; the same visual tokens in "
            "the family's own unit on the others (`globe/families.py`)")


def shown(value: str) -> str:
    """A default as the README shows it."""
    if value in ("", "$RELEASED_RL_BUDGET"):
        return "none" if value == "" else "none on qwen2_5_vl; other families: the family's budget"
    if value == "$FAMILY_BUDGET":
        return "the family's budget"
    if value.startswith("$FAMILY_"):
        return "the family's released GLOBE weights (else its model)" if value == "$FAMILY_WEIGHTS" else (
            f"the family's {value[len('$FAMILY_'):].lower().replace('_', ' ')}")
    if value == "$newest_rm":
        return "the newest train_rm.sh checkpoint"
    return f"`{value}`"


def released_default(launcher: str, knob: str) -> str:
    name = "IMAGE_BUDGET" if knob == "$FAMILY_BUDGET_ENV" else knob
    return declared_knobs(script(launcher))[name]["default"]


def scope(launchers: list[str]) -> str:
    if set(GRPO) <= set(launchers):
        launchers = ["GRPO"] + [name for name in launchers if name not in GRPO]
    return ", ".join(launchers)


def recipe_table() -> str:
    """README's recipe table: every knob RECIPE=globe changes, its released and GLOBE values, and why."""
    lines = ["| knob | launchers | released | GLOBE | why GLOBE differs |", "|---|---|---|---|---|"]
    for launchers, knob, value, why in recipe_rows():
        released = {shown(released_default(launcher, knob)) for launcher in launchers}
        name = "image budget (`MAX_PIXELS`, `IMAGE_MAX_TOKEN_NUM`, `MAX_NUM`)" if knob == "$FAMILY_BUDGET_ENV" else f"`{knob}`"
        globe = family_budgets() if value == "$FAMILY_BUDGET" else f"`{value}`"
        lines.append(f"| {name} | {scope(launchers)} | {' / '.join(sorted(released))} | {globe} | {why} |")
    return "\n".join(lines)


def knob_table() -> str:
    """README's knob table: every knob of every launcher, its kind, its defaults and its meaning."""
    defaults: dict[str, dict[str, list[str]]] = {}
    helps: dict[str, str] = {}
    optional: set[str] = set()
    for launcher in LAUNCHERS:
        optional |= Knobs({}, launcher_knobs(launcher)).optional
        for path in (LAUNCHER_DIR / "common.sh", script(launcher)):
            for name, knob in declared_knobs(path).items():
                defaults.setdefault(name, {}).setdefault(shown(knob["default"]), [])
                if launcher not in defaults[name][shown(knob["default"])]:
                    defaults[name][shown(knob["default"])].append(launcher)
                helps.setdefault(name, knob["help"])
    lines = ["| knob | kind | default (`RECIPE=released`) | meaning |", "|---|---|---|---|"]
    for name, by_value in defaults.items():
        kind = "a family of `globe/families.py`" if name == "MODEL_FAMILY" else KINDS[name]
        kind = " \\| ".join(f"`{choice}`" for choice in kind.split("|")) if "|" in kind else kind
        kind += " (or none)" if name in optional else ""
        every = sum(by_value.values(), [])
        default = "; ".join(value if len(by_value) == 1 and len(every) == len(LAUNCHERS)
                            else f"{value} ({scope(launchers)})" for value, launchers in by_value.items())
        label = "image budget: `MAX_PIXELS` / `IMAGE_MAX_TOKEN_NUM` / `MAX_NUM`" if name == "IMAGE_BUDGET" else f"`{name}`"
        lines.append(f"| {label} | {kind} | {default} | {helps[name]} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """family NAME | knobs LAUNCHER | check LAUNCHER | latest-checkpoint DIR | recipe-table | knob-table"""
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else ("", [])
    try:
        if command == "family" and len(rest) == 1:
            print("\n".join(family_variables(rest[0])))
        elif command == "knobs" and len(rest) == 1 and rest[0] in LAUNCHERS:
            print(" ".join([*launcher_knobs(rest[0]), "FAMILY_BUDGET_ENV"]))
        elif command == "check" and len(rest) == 1 and rest[0] in LAUNCHERS:
            print("\n".join(check(rest[0], os.environ)))
        elif command == "latest-checkpoint" and len(rest) == 1:
            print(latest_checkpoint(Path(rest[0])) or f"{rest[0]}/{RM_PLACEHOLDER}")
        elif command in ("recipe-table", "knob-table") and not rest:
            print(recipe_table() if command == "recipe-table" else knob_table())
        else:
            print(f"usage: launch.py {main.__doc__}", file=sys.stderr)
            return 2
    except LaunchError as exc:
        launcher = os.environ.get("GLOBE_LAUNCHER") or (rest[0] if command == "check" else "launch.py")
        print(f"{launcher}.sh: {exc}" if launcher != "launch.py" else f"launch.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
