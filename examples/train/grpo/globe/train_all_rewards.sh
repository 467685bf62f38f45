#!/usr/bin/env bash
# GRPO with all of GLOBE's rewards: accuracy, locatability (a served reward model), visual match
# and format, weighted 1 / 0.5 / 0.2 / 1 as in the released script (README.md says why not the
# released README's 1 / 0.2 / 0.5). Output: experiments/globe_all_rewards.
#
# Needs the locatability reward model served first (serve_rm.sh prints the line):
#   export GLOBE_RM_URL=http://RM_HOST:8001/v1
#   bash examples/train/grpo/globe/train_all_rewards.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/train_all_rewards.sh
#
# Released layout (RECIPE=released, the default), on one 8-GPU node: 6 training processes on
# GPUs 0-5 and a vLLM rollout server (`swift rollout`, 2 replicas) on GPUs 6,7 that this script
# starts first and stops when training ends; generation is asynchronous (one step stale).
# RECIPE=globe: vLLM colocated on all 8 training GPUs, synchronous. README.md has every knob
# and the table of what RECIPE changes. Arguments to this script are passed on to `swift rlhf`.
set -euo pipefail
# shellcheck source=common.sh disable=SC1091  # (followed with shellcheck -x)
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
globe_launch train_all_rewards "$@"
