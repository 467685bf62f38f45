# shellcheck shell=bash
#
# RECIPE=globe: every value in which GLOBE's recipe differs from the released run, and why.
# Sourced by common.sh, before the launcher's own defaults (which are the released values). Each
# line gives a knob its GLOBE value in the launchers it names, unless you set that knob yourself:
# so each difference is also a knob of its own (RECIPE=released VLLM_MAX_MODEL_LEN=8192 ...), and
# a knob you set wins over both recipes. README.md's recipe table is generated from these lines.
#
#   globe_differs LAUNCHERS KNOB GLOBE_VALUE "why GLOBE differs"    (grpo: the three train_*_reward(s).sh)

globe_layout="one node, no process left idle: vLLM shares every GPU with training (sleeping while it trains), so 8 processes train, not 6, and rollouts are on-policy (synchronous)"

globe_differs train_sft DEEPSPEED zero3 \
    "full fine-tuning of a 7B model does not fit a 40 GB GPU (the hardware the released README names) without sharding"
globe_differs grpo,rollout_server,serve_policy,serve_rm "$FAMILY_BUDGET_ENV" "$FAMILY_BUDGET" \
    "the policy is trained and served at the resolution SFT and the reward model saw; without it Qwen2.5-VL takes up to 12.8 M pixels (16384 visual tokens) per image"
globe_differs grpo NPROC_PER_NODE 8 "$globe_layout"
globe_differs grpo VLLM_MODE colocate "$globe_layout"
globe_differs grpo ASYNC_GENERATE false \
    "on-policy rollouts: ms-swift generates asynchronously only in server mode, and async rollouts come from the previous step's weights without clipping the advantage"
globe_differs grpo VLLM_GPU_MEMORY_UTILIZATION 0.5 \
    "colocated, vLLM leaves half of each GPU to training"
globe_differs grpo VLLM_MAX_MODEL_LEN 8192 \
    "a prompt's image alone takes up to 1280 tokens, so 1024 cannot hold the prompt and a 1024-token completion"
globe_differs grpo ACCURACY_REWARD globe_accuracy \
    "names are matched as places (aliases, scripts, spellings: \"Munich\" = \"München\") instead of by a 0.7-length substring rule; same scope and values as released (first answer block, 1.0 / 0.2 / 0.0)"
globe_differs train_two_rewards,train_all_rewards VISUAL_MATCH_REWARD globe_visual_match \
    "entities are matched as whole words (plurals, folded diacritics) in the reasoning only, instead of as plain substrings of everything before </think> (the whole completion, answer included, when </think> is missing)"
globe_differs grpo FORMAT_REWARD globe_format \
    "also requires the \`country:\`/\`city:\` lines (real values, not placeholders) inside the answer block that the accuracy reward reads, and no second think/answer tag"
globe_differs train_all_rewards GLOBE_RM_INPUT reasoning \
    "the RM was trained on reasoning text; the answer lines would let it judge the answer instead of whether the image is locatable"
globe_differs train_all_rewards GLOBE_RM_TEMPERATURE 0.0 \
    "only the first token's probabilities are read; greedy makes the reply reproducible"
globe_differs train_all_rewards GLOBE_RM_MAX_TOKENS 3 \
    "fewer tokens per request; only the first is scored"
globe_differs train_all_rewards GLOBE_RM_VERDICT globe \
    "also reads the yes/no tokens tokenizers write with a leading space, Ġ, ▁ or newline, and keeps the likeliest of repeated forms instead of summing them"
globe_differs train_all_rewards GLOBE_RM_NO_VERDICT text \
    "a reply that says yes or no in other tokens still counts"
globe_differs train_all_rewards GLOBE_RM_FALLBACK 0.5 \
    "an outage must not push the policy away from locatable reasoning; 0.5 is neutral"
globe_differs serve_policy MAX_MODEL_LEN 8192 \
    "the context of serve_rm.sh and of the rollout server; the released 8096 reads as a slip for 8192 (a prompt with its image takes about 1,300 tokens, so both fit)"
globe_differs serve_policy GPU_MEMORY_UTILIZATION 0.9 \
    "vLLM's default: leaves room for CUDA graphs and for a second process on the GPU (the reward model, an evaluation client)"
globe_differs serve_policy SERVED_MODEL_NAME globe \
    "names the trained policy whatever its family (qwen2.5-vl is wrong for InternVL3 or Qwen3-VL); eval.py and globe-app ask for the only served model either way"
globe_differs serve_policy PORT 8000 \
    "vLLM's own default port, beside serve_rm.sh's 8001"
