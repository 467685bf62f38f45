#!/usr/bin/env bash
# The locatability reward model: a LoRA on Qwen2.5-VL-7B-Instruct that answers "yes"/"no" to
# "is this image, with this reasoning, locatable?" (the mp16-reason-rm data). GRPO's
# globe_locatability reward reads P(yes) from it once it is served (serve_rm.sh).
#
# Released recipe: LoRA rank 16 / alpha 64 on all linear layers, lr 1e-4, 2 epochs, frozen ViT,
# MAX_PIXELS=1003520, 8 GPUs x 40 GB. Output: experiments/globe_rm_model.
#
#   bash examples/train/grpo/globe/train_rm.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/train_rm.sh
#
# Knobs: README.md in this folder. Arguments to this script are passed on to `swift sft`.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
globe_launch train_rm "$@"
