#!/usr/bin/env bash
# Supervised fine-tuning on the reasoning form of MP16-Reason (optional warm start before GRPO):
# the released train_sft.sh on ms-swift 4.x. Full fine-tuning of Qwen2.5-VL-7B-Instruct, lr 1e-5,
# 2 epochs, frozen ViT, MAX_PIXELS=1003520, 1% held out and evaluated every 200 steps, no DeepSpeed
# (RECIPE=globe: ZeRO-3). Output: experiments/sft_geoloc_reason.
#
#   bash examples/train/grpo/globe/train_sft.sh                          # the released run, 8 GPUs
#   DRY_RUN=1 bash examples/train/grpo/globe/train_sft.sh                # print the command only
#   RECIPE=globe MODEL_FAMILY=qwen3_vl bash examples/train/grpo/globe/train_sft.sh
#   bash examples/train/grpo/globe/train_sft.sh --learning_rate 2e-5     # arguments go last: they win
#
# The knobs below are environment variables (README.md in this folder lists them all); any other
# flag of `swift sft` is one line of the command, or an argument to this script.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"  # cd to the checkout; RECIPE (recipe_globe.sh), MODEL_FAMILY (globe/families.py)

MODEL=${MODEL:-$FAMILY_MODEL}                       # hub id or local checkpoint
MODEL_TYPE=${MODEL_TYPE:-$FAMILY_MODEL_TYPE}        # --model_type
TEMPLATE=${TEMPLATE:-$FAMILY_TEMPLATE}              # --template
IMAGE_BUDGET=${!FAMILY_BUDGET_ENV-$FAMILY_BUDGET}   # the family's image budget variable; none: the model's own
TORCH_DTYPE=${TORCH_DTYPE:-bfloat16}                # --torch_dtype
TUNER_TYPE=${TUNER_TYPE:-full}                      # full, or lora (ms-swift's LoRA defaults; pass --lora_rank etc.)
DATASET=${DATASET:-mp16-reason-sft}                 # registered names and/or local files (file#N: N rows)
OUTPUT_DIR=${OUTPUT_DIR:-experiments/sft_geoloc_reason}  # --output_dir
NPROC_PER_NODE=${NPROC_PER_NODE:-8}                 # training processes (GPUs) per node
DEEPSPEED=${DEEPSPEED-}                             # zero2, zero3 or a DeepSpeed .json; empty or none: none
BATCH_SIZE=${BATCH_SIZE:-1}                         # per GPU, for training and evaluation
GRAD_ACCUM=${GRAD_ACCUM:-8}                         # --gradient_accumulation_steps
MAX_STEPS=${MAX_STEPS-}                             # --max_steps (overrides the epochs); empty: the epochs
SAVE_STEPS=${SAVE_STEPS:-200}                       # --save_steps
GRADIENT_CHECKPOINTING=${GRADIENT_CHECKPOINTING:-true}  # --gradient_checkpointing
globe_check
read -ra datasets <<< "$DATASET"

globe_mkdir "$OUTPUT_DIR"
globe_run \
    ${IMAGE_BUDGET:+"$FAMILY_BUDGET_ENV=$IMAGE_BUDGET"} \
    NPROC_PER_NODE="$NPROC_PER_NODE" \
    "${TORCHRUN_ENV[@]}" \
    "${FAMILY_ENV[@]}" \
    swift sft \
    --model "$MODEL" \
    --model_type "$MODEL_TYPE" \
    --template "$TEMPLATE" \
    "${FAMILY_FLAGS[@]}" \
    --external_plugins globe/dataset.py \
    --tuner_type "$TUNER_TYPE" \
    --torch_dtype "$TORCH_DTYPE" \
    --dataset "${datasets[@]}" \
    --split_dataset_ratio 0.01 \
    --max_length 2048 \
    --num_train_epochs 2 \
    ${MAX_STEPS:+--max_steps "$MAX_STEPS"} \
    --freeze_vit true \
    --freeze_aligner true \
    --gradient_checkpointing "$GRADIENT_CHECKPOINTING" \
    --per_device_train_batch_size "$BATCH_SIZE" \
    --per_device_eval_batch_size "$BATCH_SIZE" \
    --learning_rate 1e-5 \
    --gradient_accumulation_steps "$GRAD_ACCUM" \
    --save_strategy steps \
    --eval_strategy steps \
    --eval_steps 200 \
    --save_steps "$SAVE_STEPS" \
    --save_total_limit 5 \
    --logging_steps 1 \
    --output_dir "$OUTPUT_DIR" \
    --warmup_ratio 0.05 \
    --dataloader_num_workers 4 \
    ${DEEPSPEED:+--deepspeed "$DEEPSPEED"} \
    "${GLOBE_EXTRA_ARGS[@]}" "$@"
