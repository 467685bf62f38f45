#!/usr/bin/env bash
# A vLLM rollout server for GRPO's server mode on its own node: `swift rollout` generates the
# completions, the trainer (train_*_reward(s).sh with VLLM_SERVER_HOST=<this host>) trains on
# all of its GPUs and pushes new weights here each step. (On one node the GRPO launchers start
# and stop their own rollout server: you need this script only for a separate rollout node.)
#
#   bash examples/train/grpo/globe/rollout_server.sh                  # 8 GPUs, 8 vLLM replicas
#   CUDA_VISIBLE_DEVICES=0,1,2,3,4,5 DATA_PARALLEL_SIZE=6 bash .../rollout_server.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/rollout_server.sh
#
# Start it with the same MODEL (and MODEL_FAMILY, RECIPE) as the trainer. Knobs: README.md in
# this folder. Arguments to this script are passed on to `swift rollout`.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
globe_launch rollout_server "$@"
