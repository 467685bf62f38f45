#!/usr/bin/env bash
# Serve a GLOBE policy (a trained checkpoint, or the released weights) with an OpenAI-compatible
# API, for eval.py, globe-app or your own client; prints the GLOBE_EVAL_URL line. By default with
# the released README's `vllm serve` values (RECIPE=globe: recipe_globe.sh).
#
#   bash examples/train/grpo/globe/serve_policy.sh      # the released GLOBE-Qwen2.5VL-7B
#   MODEL=experiments/globe_all_rewards/v0-20250101-120000/checkpoint-800 \
#       bash examples/train/grpo/globe/serve_policy.sh  # your own run
#   DRY_RUN=1 bash examples/train/grpo/globe/serve_policy.sh
#
# SERVE_BACKEND=vllm (default) runs `vllm serve`; SERVE_BACKEND=swift runs `swift deploy` (no GPU
# needed with INFER_BACKEND=transformers). Set VLLM_API_KEY to require a key. The knobs below are
# environment variables (README.md lists them all); arguments go to the server command last.
# shellcheck disable=SC2089,SC2090  # the JSON of MM_PROCESSOR_KWARGS is data, not shell quoting
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"  # cd to the checkout; RECIPE (recipe_globe.sh), MODEL_FAMILY (globe/families.py)

MODEL=${MODEL:-$FAMILY_WEIGHTS}                     # hub id or local checkpoint (default: the released GLOBE weights)
MODEL_TYPE=${MODEL_TYPE:-$FAMILY_MODEL_TYPE}        # --model_type (swift deploy)
TEMPLATE=${TEMPLATE:-$FAMILY_TEMPLATE}              # --template (swift deploy)
IMAGE_BUDGET=${!FAMILY_BUDGET_ENV-$RELEASED_RL_BUDGET}  # the family's image budget variable; none: the model's own
SERVE_BACKEND=${SERVE_BACKEND:-vllm}                # vllm: `vllm serve`; swift: `swift deploy`
SERVED_MODEL_NAME=${SERVED_MODEL_NAME:-qwen2.5-vl}  # the name clients ask for
HOST=${HOST:-0.0.0.0}                               # address to listen on
PORT=${PORT:-8081}                                  # port to listen on
MAX_MODEL_LEN=${MAX_MODEL_LEN:-8096}                # vLLM's context length
TENSOR_PARALLEL_SIZE=${TENSOR_PARALLEL_SIZE:-1}     # GPUs per replica
GPU_MEMORY_UTILIZATION=${GPU_MEMORY_UTILIZATION:-0.95}  # vLLM's share of each GPU
MM_PROCESSOR_KWARGS=${MM_PROCESSOR_KWARGS-}         # vllm serve --mm-processor-kwargs (default: the image budget in vLLM's terms)
TORCH_DTYPE=${TORCH_DTYPE-}                         # swift deploy --torch_dtype (empty: the checkpoint's)
INFER_BACKEND=${INFER_BACKEND:-transformers}        # swift deploy --infer_backend
MAX_NEW_TOKENS=${MAX_NEW_TOKENS-}                   # swift deploy --max_new_tokens (empty: ms-swift's default)
globe_check
if [[ -z $MM_PROCESSOR_KWARGS && -n $IMAGE_BUDGET ]]; then  # vLLM takes the budget in pixels (Qwen) or tiles (InternVL)
    printf -v MM_PROCESSOR_KWARGS '{"%s": %d}' "$FAMILY_VLLM_BUDGET_KEY" $((IMAGE_BUDGET * FAMILY_VLLM_BUDGET_SCALE))
fi

address=http://$(globe_reachable "$HOST"):$PORT
GLOBE_NOTE="# When the server answers (curl $address/v1/models), evaluate with
#   python examples/train/grpo/globe/eval.py --dataset im2gps3k --use-cot --output preds.csv
# after:
export GLOBE_EVAL_URL=$address/v1"

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
        --served_model_name "$SERVED_MODEL_NAME" \
        --host "$HOST" \
        --port "$PORT" \
        ${MAX_NEW_TOKENS:+--max_new_tokens "$MAX_NEW_TOKENS"} \
        "${GLOBE_EXTRA_ARGS[@]}" "$@"
fi
globe_run \
    vllm serve "$MODEL" \
    --served-model-name "$SERVED_MODEL_NAME" \
    --host "$HOST" \
    --port "$PORT" \
    --max-model-len "$MAX_MODEL_LEN" \
    --tensor-parallel-size "$TENSOR_PARALLEL_SIZE" \
    --gpu-memory-utilization "$GPU_MEMORY_UTILIZATION" \
    ${MM_PROCESSOR_KWARGS:+--mm-processor-kwargs "$MM_PROCESSOR_KWARGS"} \
    --trust-remote-code \
    "${GLOBE_EXTRA_ARGS[@]}" "$@"
