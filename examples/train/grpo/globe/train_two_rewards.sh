#!/usr/bin/env bash
# GRPO with the accuracy and visual-match rewards (plus format): the released README's
# recommended recipe. Weights 1 / 0.5 / 1 as released. Output: experiments/globe_acc_vm_reward.
#
#   bash examples/train/grpo/globe/train_two_rewards.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/train_two_rewards.sh
#
# Released layout (RECIPE=released, the default), on one 8-GPU node: 6 training processes on
# GPUs 0-5 and a vLLM rollout server (`swift rollout`, 2 replicas) on GPUs 6,7 that this script
# starts first and stops when training ends; generation is asynchronous (one step stale).
# RECIPE=globe: vLLM colocated on all 8 training GPUs, synchronous. README.md has every knob
# and the table of what RECIPE changes. Arguments to this script are passed on to `swift rlhf`.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
globe_launch train_two_rewards "$@"
