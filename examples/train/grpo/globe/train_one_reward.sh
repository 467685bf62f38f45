#!/usr/bin/env bash
# GRPO with the accuracy reward (plus the format reward every released recipe carries): the
# paper's one-reward ablation, the released train_one_reward.sh on ms-swift 4.x.
# Output: experiments/globe_acc_reward.
#
#   bash examples/train/grpo/globe/train_one_reward.sh
#   DRY_RUN=1 bash examples/train/grpo/globe/train_one_reward.sh      # print the commands only
#   RECIPE=globe bash examples/train/grpo/globe/train_one_reward.sh   # GLOBE's recipe (recipe_globe.sh)
#
# Released layout, on one 8-GPU node: 6 training processes on GPUs 0-5 and a vLLM rollout server
# (`swift rollout`, 2 replicas) on GPUs 6,7 that this script starts first and stops when training
# ends (or fails, or you press Ctrl-C); generation is asynchronous (one step stale). RECIPE=globe:
# vLLM colocated on all 8 training GPUs, synchronous. The knobs below are environment variables
# (README.md lists them all); any other flag of `swift rlhf` is one line of the command, or an
# argument to this script (arguments go last: they win).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"  # cd to the checkout; RECIPE (recipe_globe.sh), MODEL_FAMILY (globe/families.py)

MODEL=${MODEL:-$FAMILY_MODEL}                       # hub id or local checkpoint
MODEL_TYPE=${MODEL_TYPE:-$FAMILY_MODEL_TYPE}        # --model_type
TEMPLATE=${TEMPLATE:-$FAMILY_TEMPLATE}              # --template
IMAGE_BUDGET=${!FAMILY_BUDGET_ENV-$RELEASED_RL_BUDGET}  # the family's image budget variable; none: the model's own
TORCH_DTYPE=${TORCH_DTYPE:-bfloat16}                # --torch_dtype
DATASET=${DATASET:-mp16-reason-train}               # registered names and/or local files (file#N: N rows)
OUTPUT_DIR=${OUTPUT_DIR:-experiments/globe_acc_reward}  # --output_dir
NPROC_PER_NODE=${NPROC_PER_NODE:-6}                 # training processes (GPUs) per node
DEEPSPEED=${DEEPSPEED-zero3}                        # zero2, zero3 or a DeepSpeed .json; empty or none: none
BATCH_SIZE=${BATCH_SIZE:-8}                         # per GPU, for training and evaluation
GRAD_ACCUM=${GRAD_ACCUM:-2}                         # --gradient_accumulation_steps
MAX_STEPS=${MAX_STEPS-}                             # --max_steps (overrides the epochs); empty: the epochs
SAVE_STEPS=${SAVE_STEPS:-200}                       # --save_steps
GRADIENT_CHECKPOINTING=${GRADIENT_CHECKPOINTING:-true}  # --gradient_checkpointing
# rewards (globe/plugin.py registers them)
ACCURACY_REWARD=${ACCURACY_REWARD:-globe_accuracy_released}  # the accuracy reward in REWARD_FUNCS' default
FORMAT_REWARD=${FORMAT_REWARD:-external_math_format}  # the format reward in REWARD_FUNCS' default
REWARD_FUNCS=${REWARD_FUNCS:-$ACCURACY_REWARD $FORMAT_REWARD}  # --reward_funcs
REWARD_WEIGHTS=${REWARD_WEIGHTS:-1 1}       # --reward_weights, one per reward
NUM_GENERATIONS=${NUM_GENERATIONS:-16}              # completions per prompt
MAX_COMPLETION_LENGTH=${MAX_COMPLETION_LENGTH:-1024}  # --max_completion_length
# rollouts
USE_VLLM=${USE_VLLM:-true}                          # false: generate with transformers (no rollout server, CPU tests)
VLLM_MODE=${VLLM_MODE:-server}                      # server: a rollout server on its own GPUs; colocate: on the training GPUs
ASYNC_GENERATE=${ASYNC_GENERATE:-true}              # server mode: generate the next batch while training (one step stale)
ROLLOUT_GPUS=${ROLLOUT_GPUS-6,7}                    # server mode: the GPUs of the rollout server this script starts
TRAIN_GPUS=${TRAIN_GPUS-}                           # the training GPUs (default: the first NPROC_PER_NODE not in ROLLOUT_GPUS)
VLLM_GPU_MEMORY_UTILIZATION=${VLLM_GPU_MEMORY_UTILIZATION:-0.85}  # vLLM's share of each of its GPUs
VLLM_MAX_MODEL_LEN=${VLLM_MAX_MODEL_LEN:-1024}      # vLLM's context: prompt (image included) + completion
VLLM_TENSOR_PARALLEL_SIZE=${VLLM_TENSOR_PARALLEL_SIZE:-1}  # GPUs per vLLM replica
VLLM_SERVER_HOST=${VLLM_SERVER_HOST-}               # server mode: rollout server host(s) you started; empty: this script's own
VLLM_SERVER_PORT=${VLLM_SERVER_PORT:-8000}          # server mode: rollout server port(s)
ROLLOUT_START_TIMEOUT=${ROLLOUT_START_TIMEOUT:-1800}  # seconds to wait for this script's own rollout server
globe_check
read -ra datasets <<< "$DATASET"
read -ra reward_funcs <<< "$REWARD_FUNCS"
read -ra reward_weights <<< "$REWARD_WEIGHTS"

# The rollout layout: --use_vllm false; colocated vLLM; or a rollout server, your own
# (VLLM_SERVER_HOST, rollout_server.sh) or, by default, this script's on ROLLOUT_GPUS.
case $USE_VLLM/$VLLM_MODE in
    false/*)
        rollout_flags=(--use_vllm false) ;;
    true/colocate)
        rollout_flags=(--use_vllm true --vllm_mode colocate
                       --vllm_gpu_memory_utilization "$VLLM_GPU_MEMORY_UTILIZATION"
                       --vllm_tensor_parallel_size "$VLLM_TENSOR_PARALLEL_SIZE"
                       --vllm_max_model_len "$VLLM_MAX_MODEL_LEN"
                       --sleep_level 1) ;;
    true/server)
        read -ra hosts <<< "${VLLM_SERVER_HOST:-127.0.0.1}"
        read -ra ports <<< "$VLLM_SERVER_PORT"
        rollout_flags=(--use_vllm true --vllm_mode server
                       --vllm_server_host "${hosts[@]}" --vllm_server_port "${ports[@]}"
                       --async_generate "$ASYNC_GENERATE") ;;
esac
if [[ $USE_VLLM/$VLLM_MODE == true/server && -z $VLLM_SERVER_HOST ]]; then
    IFS=, read -ra rollout_gpus <<< "$ROLLOUT_GPUS"
    TRAIN_GPUS=${TRAIN_GPUS:-$(globe_gpus_besides "$ROLLOUT_GPUS" "$NPROC_PER_NODE")}
    globe_server_first "http://127.0.0.1:$VLLM_SERVER_PORT/health/" "$ROLLOUT_START_TIMEOUT" \
        CUDA_VISIBLE_DEVICES="$ROLLOUT_GPUS" \
        ${IMAGE_BUDGET:+"$FAMILY_BUDGET_ENV=$IMAGE_BUDGET"} \
        swift rollout \
        --model "$MODEL" \
        --model_type "$MODEL_TYPE" \
        --template "$TEMPLATE" \
        "${FAMILY_FLAGS[@]}" \
        --torch_dtype "$TORCH_DTYPE" \
        --vllm_data_parallel_size $(( ${#rollout_gpus[@]} / VLLM_TENSOR_PARALLEL_SIZE )) \
        --vllm_tensor_parallel_size "$VLLM_TENSOR_PARALLEL_SIZE" \
        --vllm_gpu_memory_utilization "$VLLM_GPU_MEMORY_UTILIZATION" \
        --vllm_max_model_len "$VLLM_MAX_MODEL_LEN" \
        --host 127.0.0.1 \
        --port "$VLLM_SERVER_PORT"
fi

globe_mkdir "$OUTPUT_DIR"
globe_run \
    ${IMAGE_BUDGET:+"$FAMILY_BUDGET_ENV=$IMAGE_BUDGET"} \
    NPROC_PER_NODE="$NPROC_PER_NODE" \
    ${TRAIN_GPUS:+CUDA_VISIBLE_DEVICES="$TRAIN_GPUS"} \
    "${TORCHRUN_ENV[@]}" \
    "${FAMILY_ENV[@]}" \
    swift rlhf \
    --rlhf_type grpo \
    --model "$MODEL" \
    --model_type "$MODEL_TYPE" \
    --template "$TEMPLATE" \
    "${FAMILY_FLAGS[@]}" \
    --external_plugins globe/plugin.py globe/dataset.py \
    --reward_funcs "${reward_funcs[@]}" \
    --reward_weights "${reward_weights[@]}" \
    "${rollout_flags[@]}" \
    --tuner_type full \
    --torch_dtype "$TORCH_DTYPE" \
    --dataset "${datasets[@]}" \
    --split_dataset_ratio 0.01 \
    --max_length 8192 \
    --max_completion_length "$MAX_COMPLETION_LENGTH" \
    --num_train_epochs 1 \
    ${MAX_STEPS:+--max_steps "$MAX_STEPS"} \
    --freeze_vit true \
    --freeze_aligner true \
    --gradient_checkpointing "$GRADIENT_CHECKPOINTING" \
    --per_device_train_batch_size "$BATCH_SIZE" \
    --per_device_eval_batch_size "$BATCH_SIZE" \
    --learning_rate 1e-6 \
    --gradient_accumulation_steps "$GRAD_ACCUM" \
    --save_strategy steps \
    --eval_strategy steps \
    --eval_steps 200 \
    --save_steps "$SAVE_STEPS" \
    --save_total_limit 5 \
    --logging_steps 1 \
    --output_dir "$OUTPUT_DIR" \
    --warmup_ratio 0.01 \
    --dataloader_num_workers 4 \
    --num_generations "$NUM_GENERATIONS" \
    --temperature 1.0 \
    --top_k 50 \
    --top_p 0.9 \
    ${DEEPSPEED:+--deepspeed "$DEEPSPEED"} \
    --log_completions true \
    --num_iterations 1 \
    --beta 0.001 \
    "${GLOBE_EXTRA_ARGS[@]}" "$@"
