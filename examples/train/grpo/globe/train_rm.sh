#!/usr/bin/env bash
# The locatability reward model: a LoRA on Qwen2.5-VL-7B-Instruct that answers "yes"/"no" to
# "is this image, with this reasoning, locatable?" (the mp16-reason-rm data). GRPO's
# globe_locatability reward reads P(yes) from it once it is served (serve_rm.sh).
#
# Paper recipe: LoRA rank 16 / alpha 64 on all linear layers, lr 1e-4, 2 epochs, frozen ViT,
# 8 GPUs x 40 GB. Output: experiments/globe_rm_model.
#
#   bash examples/train/grpo/globe/train_rm.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/train_rm.sh
#
# Knobs: those of train_sft.sh plus LORA_RANK LORA_ALPHA TARGET_MODULES (used when
# TUNER_TYPE=lora). Arguments to this script are passed on to `swift sft`. See README.md.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

globe_model_family
: "${DATASET=mp16-reason-rm}"
: "${OUTPUT_DIR=$GLOBE_ROOT/experiments/globe_rm_model}"
: "${NPROC_PER_NODE=8}"
: "${TUNER_TYPE=lora}"
: "${LORA_RANK=16}"
: "${LORA_ALPHA=64}"
: "${TARGET_MODULES=all-linear}"
: "${TORCH_DTYPE=bfloat16}"
: "${DEEPSPEED=}"  # a LoRA on a bf16 7B model fits a 40 GB GPU without sharding
: "${LEARNING_RATE=1e-4}"
: "${NUM_TRAIN_EPOCHS=2}"
: "${BATCH_SIZE=4}"
: "${GRAD_ACCUM=4}"
: "${MAX_LENGTH=2048}"
: "${WARMUP_RATIO=0.05}"

globe_sft
if [[ "$TUNER_TYPE" == lora ]]; then
    globe_int LORA_RANK LORA_ALPHA
    globe_opt lora_rank "$LORA_RANK"
    globe_opt lora_alpha "$LORA_ALPHA"
    globe_list target_modules "$TARGET_MODULES"
fi
if [[ "$GRADIENT_CHECKPOINTING" == true ]]; then
    # non-reentrant checkpointing: gradients reach the LoRA weights behind the frozen embeddings
    globe_flag gradient_checkpointing_kwargs '{"use_reentrant": false}'
fi
globe_extra_args "$@"
globe_run "$OUTPUT_DIR"
