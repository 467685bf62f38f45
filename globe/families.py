"""The model families GLOBE trains and serves: one entry each, read by the launchers, rewards and app.

A family fixes what ms-swift and vLLM need to load a backbone (model type, template), how its image
budget is expressed (Qwen2.5-VL: ``MAX_PIXELS`` in 28-pixel tokens; Qwen3-VL and Qwen3.5: a token
budget in 32-pixel tokens; InternVL: 448-pixel tiles), and what its chat template writes into the
completion before the model does (a ``<think>`` prefill), which the rewards must see through. Every
budget is the released recipe's 1,280 visual tokens (1,003,520 pixels on Qwen2.5-VL) translated to
the family's own unit, so a family switch changes the backbone, not the resolution.

Standard library only: the launchers import this file by path from a bare checkout.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

#: The released recipe's image budget in visual tokens: MAX_PIXELS=1003520 = 1280 x 28 x 28.
RELEASED_VISUAL_TOKENS = 1280


@dataclass(frozen=True)
class Family:
    """What one backbone family needs from the launchers, and what its template does to completions."""

    name: str
    model: str  # default checkpoint (hub id)
    released_weights: str | None  # the paper's released GLOBE weights for this family, if any
    model_type: str  # ms-swift --model_type
    template: str  # ms-swift --template
    budget_env: str  # the environment variable ms-swift / qwen_vl_utils read for the image budget
    budget_value: int  # its value for RELEASED_VISUAL_TOKENS
    token_pixels: int  # side of one visual token in pixels (28 or 32; 448 for an InternVL tile)
    #: what the template writes at the start of the assistant turn, by enable_thinking (None: default)
    think_prefill: dict[str | None, str] = field(default_factory=dict)
    extra_flags: tuple[str, ...] = ()  # ms-swift flags this family needs beyond the common ones
    notes: str = ""

    def budget_pixels(self) -> int:
        """The largest image, in pixels, the budget admits (tiles for InternVL)."""
        return self.budget_value * (self.token_pixels ** 2 if self.budget_env != "MAX_PIXELS" else 1)


FAMILIES: dict[str, Family] = {
    "qwen2_5_vl": Family(
        "qwen2_5_vl", "Qwen/Qwen2.5-VL-7B-Instruct", "globe-project/GLOBE-Qwen2.5VL-7B",
        "qwen2_5_vl", "qwen2_5_vl", "MAX_PIXELS", RELEASED_VISUAL_TOKENS * 28 * 28, 28,
        think_prefill={None: ""},
        notes="the paper's backbone; the model writes <think> itself"),
    "internvl3": Family(
        "internvl3", "OpenGVLab/InternVL3-8B", "globe-project/GLOBE-InternVL3-8B",
        "internvl3", "internvl2_5", "MAX_NUM", 5, 448,
        think_prefill={None: ""},
        notes="448-pixel tiles of 256 tokens: 5 tiles (+ a thumbnail) ~ 1,280 tokens"),
    "qwen3_vl": Family(
        "qwen3_vl", "Qwen/Qwen3-VL-8B-Instruct", None,
        "qwen3_vl", "qwen3_vl", "IMAGE_MAX_TOKEN_NUM", RELEASED_VISUAL_TOKENS, 32,
        think_prefill={None: "", "false": "", "true": "<think>\n"},
        notes="32-pixel tokens; with --enable_thinking true the template prefills '<think>\\n'"),
    "qwen3_5": Family(
        "qwen3_5", "Qwen/Qwen3.5-9B", None,
        "qwen3_5", "qwen3_5", "IMAGE_MAX_TOKEN_NUM", RELEASED_VISUAL_TOKENS, 32,
        think_prefill={None: "<think>\n\n</think>\n\n", "false": "<think>\n\n</think>\n\n", "true": "<think>\n"},
        notes="natively multimodal; the template prefills an empty think block unless thinking is on"),
}
DEFAULT_FAMILY = "qwen2_5_vl"


def family(name: str) -> Family:
    """The family called ``name``; a clear error naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown MODEL_FAMILY {name!r}: use one of {', '.join(FAMILIES)}") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m globe.families NAME``: print the family's fields as shell assignments."""
    args = sys.argv[1:] if argv is None else argv
    entry = family(args[0] if args else DEFAULT_FAMILY)
    print(f"MODEL={entry.model}\nMODEL_TYPE={entry.model_type}\nTEMPLATE={entry.template}\n"
          f"{entry.budget_env}={entry.budget_value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
