#!/usr/bin/env bash
# Supervised fine-tuning on the reasoning form of MP16-Reason (optional warm start before GRPO).
#
# Paper recipe: full fine-tuning of Qwen2.5-VL-7B-Instruct, lr 1e-5, 2 epochs, frozen ViT,
# MAX_PIXELS=1003520, 8 GPUs x 40 GB (DeepSpeed ZeRO-3). Output: experiments/sft_geoloc_reason.
#
#   bash examples/train/grpo/globe/train_sft.sh                     # the paper's run, 8 GPUs
#   DRY_RUN=1 bash examples/train/grpo/globe/train_sft.sh           # print the command only
#   MODEL_FAMILY=internvl3 bash examples/train/grpo/globe/train_sft.sh
#
# Knobs (environment variables; "" or none leaves a flag out): MODEL_FAMILY MODEL MODEL_TYPE
# TEMPLATE DATASET OUTPUT_DIR NPROC_PER_NODE TUNER_TYPE TORCH_DTYPE DEEPSPEED LEARNING_RATE
# NUM_TRAIN_EPOCHS MAX_STEPS BATCH_SIZE GRAD_ACCUM MAX_LENGTH WARMUP_RATIO FREEZE_VIT
# FREEZE_ALIGNER GRADIENT_CHECKPOINTING MAX_PIXELS MAX_NUM SAVE_STEPS SAVE_TOTAL_LIMIT LOGGING_STEPS
# DATALOADER_NUM_WORKERS EXTERNAL_PLUGINS SWIFT_BIN EXTRA_ARGS DRY_RUN; multi-node: NNODES
# NODE_RANK MASTER_ADDR MASTER_PORT. Arguments to this script are passed on to `swift sft`.
# See README.md in this folder.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

globe_model_family
: "${DATASET=mp16-reason-sft}"
: "${OUTPUT_DIR=$GLOBE_ROOT/experiments/sft_geoloc_reason}"
: "${NPROC_PER_NODE=8}"
: "${TUNER_TYPE=full}"
: "${TORCH_DTYPE=bfloat16}"
: "${DEEPSPEED=zero3}"  # full fine-tuning of a 7B model fits 40 GB GPUs only when sharded
: "${LEARNING_RATE=1e-5}"
: "${NUM_TRAIN_EPOCHS=2}"
: "${BATCH_SIZE=1}"
: "${GRAD_ACCUM=8}"
: "${MAX_LENGTH=2048}"
: "${WARMUP_RATIO=0.05}"

globe_sft
globe_extra_args "$@"
globe_run "$OUTPUT_DIR"
