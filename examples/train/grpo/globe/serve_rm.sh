#!/usr/bin/env bash
# Serve the locatability reward model with an OpenAI-compatible API, and print the GLOBE_RM_URL /
# GLOBE_RM_MODEL lines that point train_all_rewards.sh's globe_locatability reward at it.
#
# By default it serves the base model with the newest LoRA checkpoint of train_rm.sh
# (experiments/globe_rm_model/vN-*/checkpoint-*) as a LoRA module named SERVED_MODEL_NAME.
#   bash examples/train/grpo/globe/serve_rm.sh
#   RM_ADAPTER=experiments/globe_rm_model/v0-20250101-120000/checkpoint-600 bash examples/train/grpo/globe/serve_rm.sh
#   RM_ADAPTER=none MODEL=/path/to/merged-rm bash examples/train/grpo/globe/serve_rm.sh   # a merged checkpoint
#   CUDA_VISIBLE_DEVICES=7 bash examples/train/grpo/globe/serve_rm.sh                      # one GPU of a training node
#
# SERVE_BACKEND=swift runs `swift deploy` instead of `vllm serve`. The knobs below are environment
# variables (README.md lists them all); arguments go to the server command last.
# shellcheck disable=SC2089,SC2090  # the JSON of MM_PROCESSOR_KWARGS is data, not shell quoting
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"  # cd to the checkout; RECIPE (recipe_globe.sh), MODEL_FAMILY (globe/families.py)

newest_rm=$(globe_python globe/launch.py latest-checkpoint experiments/globe_rm_model)
MODEL=${MODEL:-$FAMILY_MODEL}                       # the base model (or a merged reward model with RM_ADAPTER=none)
MODEL_TYPE=${MODEL_TYPE:-$FAMILY_MODEL_TYPE}        # --model_type (swift deploy)
TEMPLATE=${TEMPLATE:-$FAMILY_TEMPLATE}              # --template (swift deploy)
IMAGE_BUDGET=${!FAMILY_BUDGET_ENV-$RELEASED_RL_BUDGET}  # the family's image budget variable; none: the model's own
RM_ADAPTER=${RM_ADAPTER-$newest_rm}                 # the reward model's LoRA checkpoint; none: serve MODEL as it is
SERVE_BACKEND=${SERVE_BACKEND:-vllm}                # vllm: `vllm serve`; swift: `swift deploy`
SERVED_MODEL_NAME=${SERVED_MODEL_NAME:-globe-rm}    # the name clients ask for
HOST=${HOST:-0.0.0.0}                               # address to listen on
PORT=${PORT:-8001}                                  # port to listen on
MAX_MODEL_LEN=${MAX_MODEL_LEN:-8192}                # vLLM's context length
TENSOR_PARALLEL_SIZE=${TENSOR_PARALLEL_SIZE:-1}     # GPUs per replica
GPU_MEMORY_UTILIZATION=${GPU_MEMORY_UTILIZATION:-0.9}  # vLLM's share of each GPU
MM_PROCESSOR_KWARGS=${MM_PROCESSOR_KWARGS-}         # vllm serve --mm-processor-kwargs (default: the image budget in vLLM's terms)
MAX_LORA_RANK=${MAX_LORA_RANK:-16}                  # vllm serve --max-lora-rank (at least train_rm.sh's --lora_rank)
TORCH_DTYPE=${TORCH_DTYPE-}                         # swift deploy --torch_dtype (empty: the checkpoint's)
INFER_BACKEND=${INFER_BACKEND:-transformers}        # swift deploy --infer_backend
MAX_NEW_TOKENS=${MAX_NEW_TOKENS-}                   # swift deploy --max_new_tokens (empty: ms-swift's default)
KEEP_ALIVE_S=${KEEP_ALIVE_S:-600}                   # vLLM keeps an idle connection this long (VLLM_HTTP_TIMEOUT_KEEP_ALIVE, its default 5): the trainers' reward clients reuse theirs from step to step
globe_check
if [[ -z $MM_PROCESSOR_KWARGS && -n $IMAGE_BUDGET ]]; then  # vLLM takes the budget in pixels (Qwen) or tiles (InternVL)
    printf -v MM_PROCESSOR_KWARGS '{"%s": %d}' "$FAMILY_VLLM_BUDGET_KEY" $((IMAGE_BUDGET * FAMILY_VLLM_BUDGET_SCALE))
fi
served=$SERVED_MODEL_NAME
if [[ -n $RM_ADAPTER ]]; then served=$SERVED_MODEL_NAME-base; fi  # with a LoRA, the LoRA module is the reward model

address=http://$(globe_reachable "$HOST"):$PORT
GLOBE_NOTE="# When the server answers (curl $address/v1/models), point the locatability
# reward at it, on every training node:
export GLOBE_RM_URL=$address/v1
export GLOBE_RM_MODEL=$SERVED_MODEL_NAME"

if [[ $SERVE_BACKEND == swift ]]; then
    globe_run \
        ${IMAGE_BUDGET:+"$FAMILY_BUDGET_ENV=$IMAGE_BUDGET"} \
        swift deploy \
        --model "$MODEL" \
        --model_type "$MODEL_TYPE" \
        --template "$TEMPLATE" \
        "${FAMILY_FLAGS[@]}" \
        ${TORCH_DTYPE:+--torch_dtype "$TORCH_DTYPE"} \
        --infer_backend "$INFER_BACKEND" \
        --served_model_name "$served" \
        --host "$HOST" \
        --port "$PORT" \
        ${MAX_NEW_TOKENS:+--max_new_tokens "$MAX_NEW_TOKENS"} \
        ${RM_ADAPTER:+--adapters "$SERVED_MODEL_NAME=$RM_ADAPTER"} \
        "${GLOBE_EXTRA_ARGS[@]}" "$@"
fi
globe_run \
    VLLM_HTTP_TIMEOUT_KEEP_ALIVE="$KEEP_ALIVE_S" \
    vllm serve "$MODEL" \
    --served-model-name "$served" \
    --host "$HOST" \
    --port "$PORT" \
    --max-model-len "$MAX_MODEL_LEN" \
    --tensor-parallel-size "$TENSOR_PARALLEL_SIZE" \
    --gpu-memory-utilization "$GPU_MEMORY_UTILIZATION" \
    ${MM_PROCESSOR_KWARGS:+--mm-processor-kwargs "$MM_PROCESSOR_KWARGS"} \
    --trust-remote-code \
    ${RM_ADAPTER:+--enable-lora --lora-modules "$SERVED_MODEL_NAME=$RM_ADAPTER" --max-lora-rank "$MAX_LORA_RANK"} \
    "${GLOBE_EXTRA_ARGS[@]}" "$@"
