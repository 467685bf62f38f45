#!/usr/bin/env bash
# GRPO with the accuracy and visual-match rewards (plus format): the released README's
# recommended recipe. Visual match rewards reasoning that names the image's ground-truth
# entities. Output: experiments/globe_two_rewards.
#
#   bash examples/train/grpo/globe/train_two_rewards.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/train_two_rewards.sh
#
# Knobs: the GRPO table in README.md; REWARD_WEIGHTS defaults to "1 0.5 1" (accuracy, visual
# match, format), as released. Arguments to this script are passed on to `swift rlhf`.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

: "${REWARD_FUNCS=globe_accuracy globe_visual_match globe_format}"
: "${REWARD_WEIGHTS=1 0.5 1}"
: "${OUTPUT_DIR=$GLOBE_ROOT/experiments/globe_two_rewards}"
globe_grpo "$@"
