#!/usr/bin/env bash
# The locatability reward model: the released train_rm.sh on ms-swift 4.x. A LoRA (rank 16, alpha
# 64, all linear layers) on Qwen2.5-VL-7B-Instruct that answers "yes"/"no" to "is this image, with
# this reasoning, locatable?" (the mp16-reason-rm data); lr 1e-4, 2 epochs, frozen ViT,
# MAX_PIXELS=1003520, 8 GPUs x 40 GB. GRPO's globe_locatability reward reads P(yes) from it once
# it is served (serve_rm.sh). Output: experiments/globe_rm_model.
#
#   bash examples/train/grpo/globe/train_rm.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/train_rm.sh
#   bash examples/train/grpo/globe/train_rm.sh --lora_rank 32 --lora_alpha 128   # arguments win
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
DATASET=${DATASET:-mp16-reason-rm}                  # registered names and/or local files (file#N: N rows)
OUTPUT_DIR=${OUTPUT_DIR:-experiments/globe_rm_model}  # --output_dir
NPROC_PER_NODE=${NPROC_PER_NODE:-8}                 # training processes (GPUs) per node
DEEPSPEED=${DEEPSPEED-}                             # zero2, zero3 or a DeepSpeed .json; empty or none: none
BATCH_SIZE=${BATCH_SIZE:-4}                         # per GPU, for training and evaluation
GRAD_ACCUM=${GRAD_ACCUM:-4}                         # --gradient_accumulation_steps
MAX_STEPS=${MAX_STEPS-}                             # --max_steps (overrides the epochs); empty: the epochs
SAVE_STEPS=${SAVE_STEPS:-200}                       # --save_steps
GRADIENT_CHECKPOINTING=${GRADIENT_CHECKPOINTING:-true}  # --gradient_checkpointing
globe_check
read -ra datasets <<< "$DATASET"

# --gradient_checkpointing_kwargs: non-reentrant checkpointing, so that gradients reach the LoRA
# weights behind the frozen embeddings (as released)
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
    --tuner_type lora \
    --lora_rank 16 \
    --lora_alpha 64 \
    --target_modules all-linear \
    --torch_dtype "$TORCH_DTYPE" \
    --dataset "${datasets[@]}" \
    --split_dataset_ratio 0.01 \
    --max_length 2048 \
    --num_train_epochs 2 \
    ${MAX_STEPS:+--max_steps "$MAX_STEPS"} \
    --freeze_vit true \
    --freeze_aligner true \
    --gradient_checkpointing "$GRADIENT_CHECKPOINTING" \
    --gradient_checkpointing_kwargs '{"use_reentrant": false}' \
    --per_device_train_batch_size "$BATCH_SIZE" \
    --per_device_eval_batch_size "$BATCH_SIZE" \
    --learning_rate 1e-4 \
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
