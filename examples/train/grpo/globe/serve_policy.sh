#!/usr/bin/env bash
# Serve a GLOBE policy (a trained checkpoint, or the released weights) with an OpenAI-compatible
# API, for eval.py or your own client; prints the GLOBE_EVAL_URL line.
#
#   bash examples/train/grpo/globe/serve_policy.sh      # the released GLOBE-Qwen2.5VL-7B
#   MODEL=experiments/globe_all_rewards/v0-20250101-120000/checkpoint-800 \
#       bash examples/train/grpo/globe/serve_policy.sh  # your own run
#   DRY_RUN=1 bash examples/train/grpo/globe/serve_policy.sh
#
# SERVE_BACKEND=vllm (default) runs `vllm serve`; SERVE_BACKEND=swift runs `swift deploy` (no
# GPU needed with INFER_BACKEND=transformers). Set VLLM_API_KEY to require a key. Knobs:
# README.md in this folder. Arguments to this script are passed on to the server command.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
globe_launch serve_policy "$@"
