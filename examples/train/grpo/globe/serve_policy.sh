#!/usr/bin/env bash
# Serve a GLOBE policy (a trained checkpoint, or the released weights) with vLLM's
# OpenAI-compatible API, for eval.py or your own client.
#
#   bash examples/train/grpo/globe/serve_policy.sh      # the released GLOBE-Qwen2.5VL-7B
#   MODEL=experiments/globe_all_rewards/v0-20250101-120000/checkpoint-800 \
#       bash examples/train/grpo/globe/serve_policy.sh  # your own run
#   DRY_RUN=1 bash examples/train/grpo/globe/serve_policy.sh
#
# Knobs: MODEL_FAMILY (qwen2_5_vl | internvl3) MODEL SERVED_MODEL_NAME HOST PORT MAX_MODEL_LEN
# TENSOR_PARALLEL_SIZE GPU_MEMORY_UTILIZATION MAX_PIXELS MM_PROCESSOR_KWARGS VLLM_BIN EXTRA_ARGS
# DRY_RUN. Set VLLM_API_KEY to require a key (vLLM reads it itself). Arguments to this script are
# passed on to the server command. It prints the GLOBE_EVAL_URL line for eval.py (see README.md).
# SERVE_BACKEND=swift serves with `swift deploy` instead of vLLM (no GPU needed with
# INFER_BACKEND=transformers; knobs INFER_BACKEND TORCH_DTYPE MAX_NEW_TOKENS SWIFT_BIN).
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"

: "${MODEL_FAMILY:=qwen2_5_vl}"
case "$MODEL_FAMILY" in
    qwen2_5_vl) : "${MODEL:=globe-project/GLOBE-Qwen2.5VL-7B}" ;;
    internvl3) : "${MODEL:=globe-project/GLOBE-InternVL3-8B}" ;;
esac
globe_model_family
: "${SERVED_MODEL_NAME=globe}"
: "${HOST=0.0.0.0}"
: "${PORT=8000}"
: "${MAX_MODEL_LEN=8192}"
: "${TENSOR_PARALLEL_SIZE=1}"
: "${GPU_MEMORY_UTILIZATION=0.9}"
: "${VLLM_BIN=vllm}"

globe_serve
globe_extra_args "$@"

policy_host="$(globe_reachable_host)"
globe_note "# When the server answers (curl http://$policy_host:$PORT/v1/models), evaluate with
#   python examples/train/grpo/globe/eval.py --dataset im2gps3k --use-cot --output preds.csv
# after:
export GLOBE_EVAL_URL=http://$policy_host:$PORT/v1"
globe_run
