#!/usr/bin/env bash
# A vLLM rollout server for GRPO's server mode on its own node: `swift rollout` generates the
# completions, the trainer (train_*_reward(s).sh with VLLM_SERVER_HOST=<this host>) trains on all
# of its GPUs and pushes new weights here each step. (On one node the GRPO launchers start and
# stop their own rollout server: you need this script only for a separate rollout node.)
#
#   bash examples/train/grpo/globe/rollout_server.sh                  # 8 GPUs, 8 vLLM replicas
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4,5 DATA_PARALLEL_SIZE=6 bash examples/train/grpo/globe/rollout_server.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/rollout_server.sh
#
# Start it with the same MODEL (and MODEL_FAMILY, RECIPE) as the trainer. The knobs below are
# environment variables (README.md lists them all); arguments to this script go to `swift rollout` last.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"  # cd to the checkout; RECIPE (recipe_globe.sh), MODEL_FAMILY (globe/families.py)

MODEL=${MODEL:-$FAMILY_MODEL}                       # hub id or local checkpoint
MODEL_TYPE=${MODEL_TYPE:-$FAMILY_MODEL_TYPE}        # --model_type
TEMPLATE=${TEMPLATE:-$FAMILY_TEMPLATE}              # --template
IMAGE_BUDGET=${!FAMILY_BUDGET_ENV-$RELEASED_RL_BUDGET}  # the family's image budget variable; none: the model's own
TORCH_DTYPE=${TORCH_DTYPE:-bfloat16}                # --torch_dtype
DATA_PARALLEL_SIZE=${DATA_PARALLEL_SIZE:-8}         # vLLM replicas
TENSOR_PARALLEL_SIZE=${TENSOR_PARALLEL_SIZE:-1}     # GPUs per replica
GPU_MEMORY_UTILIZATION=${GPU_MEMORY_UTILIZATION:-0.9}  # vLLM's share of each GPU
MAX_MODEL_LEN=${MAX_MODEL_LEN:-8192}                # vLLM's context length
HOST=${HOST:-0.0.0.0}                               # address to listen on
PORT=${PORT:-8000}                                  # port to listen on
globe_check

globe_run \
    ${IMAGE_BUDGET:+"$FAMILY_BUDGET_ENV=$IMAGE_BUDGET"} \
    swift rollout \
    --model "$MODEL" \
    --model_type "$MODEL_TYPE" \
    --template "$TEMPLATE" \
    "${FAMILY_FLAGS[@]}" \
    --torch_dtype "$TORCH_DTYPE" \
    --vllm_data_parallel_size "$DATA_PARALLEL_SIZE" \
    --vllm_tensor_parallel_size "$TENSOR_PARALLEL_SIZE" \
    --vllm_gpu_memory_utilization "$GPU_MEMORY_UTILIZATION" \
    --vllm_max_model_len "$MAX_MODEL_LEN" \
    --host "$HOST" \
    --port "$PORT" \
    "${GLOBE_EXTRA_ARGS[@]}" "$@"
