#!/usr/bin/env bash
# GRPO with the accuracy reward (plus the format reward every released recipe carries): the
# paper's one-reward ablation. Output: experiments/globe_one_reward.
#
#   bash examples/train/grpo/globe/train_one_reward.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/train_one_reward.sh
#   REWARD_FUNCS=globe_accuracy REWARD_WEIGHTS=1 bash ...   # strictly accuracy only
#
# Knobs: the GRPO table in README.md (MODEL_FAMILY MODEL DATASET OUTPUT_DIR NPROC_PER_NODE
# BATCH_SIZE GRAD_ACCUM NUM_GENERATIONS MAX_STEPS REWARD_FUNCS REWARD_WEIGHTS USE_VLLM VLLM_MODE
# VLLM_SERVER_HOST DEEPSPEED TORCH_DTYPE TUNER_TYPE EXTRA_ARGS DRY_RUN ...). Arguments to this
# script are passed on to `swift rlhf`.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

: "${REWARD_FUNCS=globe_accuracy globe_format}"
: "${REWARD_WEIGHTS=1 1}"
: "${OUTPUT_DIR=$GLOBE_ROOT/experiments/globe_one_reward}"
globe_grpo "$@"
