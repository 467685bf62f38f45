"""The model families GLOBE trains and serves: one entry each, read by the launchers, rewards and app.

A family fixes what ms-swift and vLLM need to load a backbone (model type, template), how its image
budget is expressed, and what its chat template writes into the completion before the model does
(a ``<think>`` prefill). Every value below was read from the installed ms-swift 4.6 (its model and
template registrations) and checked by ``tests/unit/test_families.py`` against it.

**Image budget.** The released recipe's 1,280 visual tokens (``MAX_PIXELS=1003520`` = 1,280 tokens
of 28 x 28 pixels on Qwen2.5-VL) translated to the family's own unit, so a family switch changes the
backbone, not the resolution. Qwen3-VL and Qwen3.5 use 16-pixel patches merged 2 x 2, i.e. 32-pixel
tokens, and ms-swift converts a ``MAX_PIXELS`` it finds into ``IMAGE_MAX_TOKEN_NUM = MAX_PIXELS //
32**2`` (980 tokens for the released value): the budget is therefore set as the token count
itself. InternVL cuts an image into 448-pixel tiles of 256 tokens, at most ``MAX_NUM`` of them plus
a thumbnail tile whenever there is more than one: ``MAX_NUM=4`` gives at most 5 tiles, 1,280 tokens.
The transformers-native InternVL checkpoints (``internvl3_hf``) ignore ``MAX_NUM``: their processor's
``max_patches`` (``preprocessor_config.json``) sets the tile count, so no environment variable applies.

**Think prefill.** ms-swift appends a template's ``response_prefix`` to the prompt and, with every
inference engine (transformers, vLLM, ``swift deploy``), puts it at the front of the decoded
completion too: what a reward scores is ``prefill + what the model wrote``. Qwen3.5 is a hybrid
thinking model: by default (thinking off) it prefills an empty block, ``<think>\\n\\n</think>\\n\\n``,
and ``--enable_thinking true`` prefills ``<think>\\n``; Qwen3-VL prefills ``<think>\\n`` only with
``--enable_thinking true``; Qwen2.5-VL and InternVL prefill nothing either way. How GLOBE reads such
completions is :func:`globe.answers.model_text`'s; how SFT targets start is :func:`sft_prefill`'s.

Standard library only: the launchers import this file by path from a bare checkout.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Mapping

#: The released recipe's image budget in visual tokens: MAX_PIXELS=1003520 = 1280 x 28 x 28.
RELEASED_VISUAL_TOKENS = 1280
#: Tokens of one 448-pixel InternVL tile: (448 / 14)**2 patches merged 2 x 2 (pixel shuffle 0.5).
INTERNVL_TILE_TOKENS = 256

EMPTY_THINK_BLOCK = "<think>\n\n</think>\n\n"
OPEN_THINK = "<think>\n"


@dataclass(frozen=True)
class Family:
    """What one backbone family needs from the launchers, and what its template does to completions."""

    name: str
    model: str  # default checkpoint (hub id)
    released_weights: str | None  # the paper's released GLOBE weights for this family, if any
    model_type: str  # ms-swift --model_type
    template: str  # ms-swift --template
    #: the environment variable ms-swift / qwen_vl_utils read for the image budget (None: none applies)
    budget_env: str | None
    budget_value: int | None  # its value for RELEASED_VISUAL_TOKENS
    token_pixels: int  # side of one visual token in pixels (28 or 32; 448 for an InternVL tile)
    #: what the template writes at the start of the assistant turn: --enable_thinking unset / true / false
    think_prefill: Mapping[bool | None, str] = field(default_factory=lambda: {None: "", True: "", False: ""})
    #: ms-swift flags this family needs beyond the common ones (every launcher passes them)
    extra_flags: tuple[str, ...] = ()
    #: Python packages ms-swift's registration lists for this family beyond GLOBE's own requirements (it
    #: only warns without them: decord reads videos, which GLOBE never sends; timm builds the remote-code InternViT)
    requires: tuple[str, ...] = ()
    template_notes: str = ""
    #: what this repository ran for real on the family (tests), as opposed to what is only configured
    tested: str = ""

    def budget_tokens(self) -> int | None:
        """The most visual tokens an image may take under :attr:`budget_value` (None: the processor decides)."""
        if self.budget_value is None:
            return None
        if self.budget_env == "MAX_PIXELS":
            return self.budget_value // self.token_pixels**2
        if self.budget_env == "MAX_NUM":  # tiles, plus a thumbnail tile when there is more than one
            return (self.budget_value + (self.budget_value > 1)) * INTERNVL_TILE_TOKENS
        return self.budget_value

    def budget_pixels(self) -> int | None:
        """The largest image area, in pixels, the budget admits at full resolution."""
        tokens = self.budget_tokens()
        if tokens is None:
            return None
        if self.budget_env == "MAX_NUM":
            return self.budget_value * self.token_pixels**2
        return tokens * self.token_pixels**2

    def budget_env_assignment(self) -> dict[str, str]:
        """``{VAR: value}`` for the launchers' environment; empty when no variable sets the budget."""
        return {self.budget_env: str(self.budget_value)} if self.budget_env and self.budget_value else {}

    def prefill(self, enable_thinking: bool | None = None) -> str:
        """What the template writes before the model, for ``--enable_thinking`` unset (None), true or false."""
        return self.think_prefill.get(enable_thinking, self.think_prefill.get(None, ""))


_NO_PREFILL = {None: "", True: "", False: ""}

FAMILIES: dict[str, Family] = {
    "qwen2_5_vl": Family(
        "qwen2_5_vl", "Qwen/Qwen2.5-VL-7B-Instruct", "globe-project/GLOBE-Qwen2.5VL-7B",
        "qwen2_5_vl", "qwen2_5_vl", "MAX_PIXELS", RELEASED_VISUAL_TOKENS * 28 * 28, 28,
        think_prefill=_NO_PREFILL,
        requires=("decord",),
        template_notes="the model writes `<think>...</think><answer>...</answer>` itself",
        tested="swift sft, GRPO (every reward), deploy + globe-eval, launchers, app on a tiny random model"),
    "internvl3": Family(
        "internvl3", "OpenGVLab/InternVL3-8B", "globe-project/GLOBE-InternVL3-8B",
        "internvl_chat", "internvl2_5", "MAX_NUM", 4, 448,
        think_prefill=_NO_PREFILL,
        requires=("timm",),
        template_notes="remote-code checkpoint (ms-swift sets trust_remote_code; needs `timm`); "
                       "448-pixel tiles of 256 tokens",
        tested="configuration only (its modeling code comes from the hub); the same template logic runs "
               "in the tests through internvl3_hf"),
    "internvl3_hf": Family(
        "internvl3_hf", "OpenGVLab/InternVL3-8B-hf", None,
        "internvl", "internvl_hf", None, None, 448,
        think_prefill=_NO_PREFILL,
        requires=("timm",),
        template_notes="transformers-native InternVL3; the processor's `max_patches` sets the tiles",
        tested="swift sft, GRPO, deploy + globe-eval on a tiny random model"),
    "qwen3_vl": Family(
        "qwen3_vl", "Qwen/Qwen3-VL-8B-Instruct", None,
        "qwen3_vl", "qwen3_vl", "IMAGE_MAX_TOKEN_NUM", RELEASED_VISUAL_TOKENS, 32,
        think_prefill={None: "", True: OPEN_THINK, False: ""},
        requires=("decord",),
        template_notes="32-pixel tokens; a prefill only with `--enable_thinking true`",
        tested="swift sft, GRPO (thinking on), deploy + globe-eval on a tiny random model"),
    "qwen3_5": Family(
        "qwen3_5", "Qwen/Qwen3.5-9B", None,
        "qwen3_5", "qwen3_5", "IMAGE_MAX_TOKEN_NUM", RELEASED_VISUAL_TOKENS, 32,
        think_prefill={None: EMPTY_THINK_BLOCK, True: OPEN_THINK, False: EMPTY_THINK_BLOCK},
        requires=("decord",),
        template_notes="hybrid thinking, natively multimodal, 32-pixel tokens; ms-swift's SFT loss skips a "
                       "leading empty think block (`ignore_empty_think`)",
        tested="swift sft, GRPO (default prefill), deploy + globe-eval on a tiny random model"),
}
DEFAULT_FAMILY = "qwen2_5_vl"


def family(name: str) -> Family:
    """The family called ``name``; a clear error naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown MODEL_FAMILY {name!r}: use one of {', '.join(FAMILIES)}") from None


def parse_enable_thinking(value: str | bool | None) -> bool | None:
    """``--enable_thinking`` as ms-swift reads it: unset/empty -> None, true/false (1/0, yes/no) -> bool."""
    if value is None or isinstance(value, bool):
        return value
    text = value.strip().lower()
    if not text:
        return None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"ENABLE_THINKING={value!r}: use true or false (or leave it unset for the template's default)")


def sft_prefill(env: Mapping[str, str] | None = None) -> str:
    """The prefill SFT targets must start with: the one ``MODEL_FAMILY`` / ``ENABLE_THINKING`` will infer with.

    ms-swift trains on the assistant content as written but infers after the template's prefill, so
    a target that does not begin with that prefill teaches the model a context it never sees
    again. Read from the environment because the dataset plugin runs inside ``swift sft`` and
    sees no template; unset variables mean the default family and the template's default.
    """
    env = os.environ if env is None else env
    entry = family(env.get("MODEL_FAMILY") or DEFAULT_FAMILY)
    return entry.prefill(parse_enable_thinking(env.get("ENABLE_THINKING")))


def _budget_text(entry: Family) -> str:
    if entry.budget_env is None:
        return "processor's `max_patches` (no variable)"
    return f"`{entry.budget_env}={entry.budget_value}` ({entry.budget_tokens():,} tokens)"


def _prefill_text(entry: Family) -> str:
    shown = {setting: "`" + repr(entry.prefill(setting))[1:-1] + "`" for setting in (None, True)}
    if not any(entry.prefill(setting) for setting in (None, True, False)):
        return "none"
    return f"default {shown[None] if entry.prefill(None) else 'none'}; thinking on {shown[True]}"


def backbones_table() -> str:
    """The README's backbones table (Markdown), generated from :data:`FAMILIES` (a test keeps them equal)."""
    lines = [
        "| `MODEL_FAMILY` | default checkpoint | `--model_type` / `--template` | image budget | think prefill "
        "| template notes | run here |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in FAMILIES.values():
        lines.append(
            f"| `{entry.name}` | `{entry.model}` | `{entry.model_type}` / `{entry.template}` | {_budget_text(entry)} "
            f"| {_prefill_text(entry)} | {entry.template_notes} | {entry.tested} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m globe.families NAME``: print the family's fields as shell assignments."""
    args = sys.argv[1:] if argv is None else argv
    entry = family(args[0] if args else DEFAULT_FAMILY)
    lines = [f"MODEL={entry.model}", f"MODEL_TYPE={entry.model_type}", f"TEMPLATE={entry.template}"]
    lines += [f"{var}={value}" for var, value in entry.budget_env_assignment().items()]
    lines.append(f"EXTRA_FLAGS='{' '.join(entry.extra_flags)}'")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
