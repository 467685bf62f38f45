#!/usr/bin/env bash
# Serve the locatability reward model with an OpenAI-compatible API, and print the
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
# Knobs: README.md in this folder. Arguments to this script are passed on to the server command.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
globe_launch serve_rm "$@"
