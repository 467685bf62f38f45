#!/usr/bin/env bash
# A vLLM rollout server for GRPO's server mode: `swift rollout` on its own GPUs (often its own
# node) generates the completions, the trainer (train_*_reward(s).sh with VLLM_MODE=server
# VLLM_SERVER_HOST=<this host>) trains on all of its GPUs and pushes new weights here each step.
#
#   bash examples/train/grpo/globe/rollout_server.sh                  # 8 GPUs, 8 vLLM replicas
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4,5 DATA_PARALLEL_SIZE=6 bash .../rollout_server.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/rollout_server.sh
#
# Start it with the same MODEL (and MODEL_FAMILY) as the trainer: the trainer only sends weight
# updates. The trainer must reach PORT and ms-swift's weight-sync group port on this host.
# Knobs: MODEL_FAMILY MODEL MODEL_TYPE TEMPLATE DATA_PARALLEL_SIZE TENSOR_PARALLEL_SIZE
# GPU_MEMORY_UTILIZATION MAX_MODEL_LEN HOST PORT MAX_PIXELS MAX_NUM SWIFT_BIN EXTRA_ARGS DRY_RUN.
# Arguments to this script are passed on to `swift rollout`.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

globe_model_family
: "${DATA_PARALLEL_SIZE=8}"    # vLLM replicas, one per TENSOR_PARALLEL_SIZE GPUs
: "${TENSOR_PARALLEL_SIZE=1}"
: "${GPU_MEMORY_UTILIZATION=0.9}"
: "${MAX_MODEL_LEN=8192}"      # prompt (image included) + MAX_COMPLETION_LENGTH
: "${TORCH_DTYPE=bfloat16}"
: "${HOST=0.0.0.0}"
: "${PORT=8000}"
: "${SWIFT_BIN=swift}"

globe_int DATA_PARALLEL_SIZE TENSOR_PARALLEL_SIZE MAX_MODEL_LEN PORT
globe_number GPU_MEMORY_UTILIZATION
globe_image_env
globe_command "$SWIFT_BIN" rollout
globe_flag model "$MODEL"
globe_opt model_type "$MODEL_TYPE"
globe_opt template "$TEMPLATE"
globe_opt torch_dtype "$TORCH_DTYPE"
globe_opt vllm_data_parallel_size "$DATA_PARALLEL_SIZE"
globe_opt vllm_tensor_parallel_size "$TENSOR_PARALLEL_SIZE"
globe_opt vllm_gpu_memory_utilization "$GPU_MEMORY_UTILIZATION"
globe_opt vllm_max_model_len "$MAX_MODEL_LEN"
globe_opt host "$HOST"
globe_opt port "$PORT"
globe_extra_args "$@"
globe_run
