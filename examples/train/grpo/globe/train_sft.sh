#!/usr/bin/env bash
# Supervised fine-tuning on the reasoning form of MP16-Reason (optional warm start before GRPO).
#
# Released recipe (RECIPE=released, the default): full fine-tuning of Qwen2.5-VL-7B-Instruct,
# lr 1e-5, 2 epochs, frozen ViT, MAX_PIXELS=1003520, 1% held out and evaluated every 200 steps,
# no DeepSpeed (RECIPE=globe: ZeRO-3). Output: experiments/sft_geoloc_reason.
#
#   bash examples/train/grpo/globe/train_sft.sh                     # the released run, 8 GPUs
#   DRY_RUN=1 bash examples/train/grpo/globe/train_sft.sh           # print the command only
#   RECIPE=globe MODEL_FAMILY=internvl3 bash examples/train/grpo/globe/train_sft.sh
#
# Knobs (environment variables) and their defaults: README.md in this folder, or the KNOBS
# table in globe/launch.py. Arguments to this script are passed on to `swift sft`.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
globe_launch train_sft "$@"
