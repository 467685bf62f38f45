#!/usr/bin/env bash
# Serve the locatability reward model with vLLM's OpenAI-compatible API, and print the
# GLOBE_RM_URL / GLOBE_RM_MODEL lines that point train_all_rewards.sh's globe_locatability
# reward at it.
#
# By default it serves the base model with the newest LoRA checkpoint of train_rm.sh
# (experiments/globe_rm_model/vN-*/checkpoint-*) as a LoRA module named SERVED_MODEL_NAME.
#   bash examples/train/grpo/globe/serve_rm.sh
#   RM_ADAPTER=experiments/globe_rm_model/v0-20250101-120000/checkpoint-600 bash .../serve_rm.sh
#   RM_ADAPTER=none MODEL=/path/to/merged-rm bash .../serve_rm.sh   # a merged checkpoint
#   CUDA_VISIBLE_DEVICES=7 bash .../serve_rm.sh                      # one GPU of a training node
#
# Knobs: MODEL_FAMILY MODEL RM_ADAPTER SERVED_MODEL_NAME HOST PORT MAX_MODEL_LEN
# TENSOR_PARALLEL_SIZE GPU_MEMORY_UTILIZATION MAX_LORA_RANK MAX_PIXELS MM_PROCESSOR_KWARGS
# VLLM_BIN EXTRA_ARGS DRY_RUN; SERVE_BACKEND=swift serves with `swift deploy` instead (no GPU
# needed with INFER_BACKEND=transformers; knobs INFER_BACKEND TORCH_DTYPE MAX_NEW_TOKENS SWIFT_BIN).
# Arguments to this script are passed on to the server command.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

globe_model_family
rm_checkpoints="$GLOBE_ROOT/experiments/globe_rm_model"
if [[ -z "${RM_ADAPTER+set}" ]]; then
    RM_ADAPTER="$(globe_latest_checkpoint "$rm_checkpoints")"
    if [[ -z "$RM_ADAPTER" ]]; then
        globe_dry_run || globe_die "no checkpoint under $rm_checkpoints: train the reward model with" \
            "train_rm.sh first, set RM_ADAPTER=<its checkpoint-N folder>, or RM_ADAPTER=none to serve MODEL as it is"
        RM_ADAPTER="$rm_checkpoints/vN-DATE-TIME/checkpoint-STEP"
        globe_warn "no checkpoint under $rm_checkpoints yet; the command shows a placeholder"
    fi
fi
: "${SERVED_MODEL_NAME=globe-rm}"
: "${HOST=0.0.0.0}"
: "${PORT=8001}"
: "${MAX_MODEL_LEN=8192}"
: "${TENSOR_PARALLEL_SIZE=1}"
: "${GPU_MEMORY_UTILIZATION=0.9}"
: "${MAX_LORA_RANK=16}"  # at least train_rm.sh's LORA_RANK
: "${VLLM_BIN=vllm}"

rm_name="$SERVED_MODEL_NAME"
if ! globe_is_off "$RM_ADAPTER"; then
    RM_ADAPTER="$(globe_resolve_path "$RM_ADAPTER")"
    if [[ ! -d "$RM_ADAPTER" ]] && ! globe_dry_run; then
        globe_die "RM_ADAPTER='$RM_ADAPTER' is not a directory: train one with train_rm.sh, point RM_ADAPTER" \
            "at its checkpoint-N folder, or set RM_ADAPTER=none to serve MODEL as it is"
    fi
    # the base model keeps its own name; the reward model is the LoRA module
    SERVED_MODEL_NAME="$rm_name-base"
fi
globe_int MAX_LORA_RANK
globe_serve
if ! globe_is_off "$RM_ADAPTER"; then
    if [[ "$SERVE_BACKEND" == swift ]]; then
        globe_flag adapters "$rm_name=$RM_ADAPTER"
    else
        globe_flag enable-lora
        globe_flag lora-modules "$rm_name=$RM_ADAPTER"
        globe_flag max-lora-rank "$MAX_LORA_RANK"
    fi
fi
globe_extra_args "$@"

rm_host="$(globe_reachable_host)"
globe_note "# When the server answers (curl http://$rm_host:$PORT/v1/models), point the locatability
# reward at it, on every training node:
export GLOBE_RM_URL=http://$rm_host:$PORT/v1
export GLOBE_RM_MODEL=$rm_name"
globe_run
