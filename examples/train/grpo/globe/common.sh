# shellcheck shell=bash
#
# common.sh: what every GLOBE launcher in this folder shares. Sourced, never run.
#
# * Paths. GLOBE_ROOT is found from this file's own location, so the launchers work from any
#   working directory; default outputs go to $GLOBE_ROOT/experiments/. A relative MODEL or
#   DATASET path is taken from your working directory, or else from the repo root.
# * Knobs. Every setting is an environment variable whose default is the paper's value. Set a
#   knob to "" or "none" to leave its flag out (ms-swift's own default then applies); knobs that
#   cannot be left out say so when you try.
# * The command. Built as an argv array, printed with shell quoting (copy-paste it to run it by
#   hand), then exec'd. DRY_RUN=1 prints it and stops. EXTRA_ARGS (split on whitespace) and the
#   launcher's own arguments are appended last, so they win over the flags above them.
# * Scale-out. ms-swift starts torchrun itself from NPROC_PER_NODE, NNODES, NODE_RANK,
#   MASTER_ADDR and MASTER_PORT; the launchers only pass them on.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "common.sh is sourced by the GLOBE launchers; run one of them instead (e.g. train_sft.sh)" >&2
    exit 2
fi

GLOBE_LAUNCHER_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
GLOBE_ROOT="$(cd -- "$GLOBE_LAUNCHER_DIR/../../../.." && pwd)"
GLOBE_LAUNCHER="$(basename -- "$0")"
GLOBE_REWARD_PLUGIN="$GLOBE_ROOT/globe/plugin.py"
GLOBE_DATASET_PLUGIN="$GLOBE_ROOT/globe/dataset.py"

GLOBE_ENV=()  # NAME=VALUE pairs the command runs with
GLOBE_CMD=()  # the command itself
GLOBE_NOTE="" # printed after the command

# --------------------------------------------------------------------------- messages and checks

globe_die() {
    printf '%s: %s\n' "$GLOBE_LAUNCHER" "$*" >&2
    exit 2
}

globe_warn() {
    printf '%s: warning: %s\n' "$GLOBE_LAUNCHER" "$*" >&2
}

# globe_is_off VALUE: true for the values that mean "leave this flag out".
globe_is_off() {
    local value="${1,,}"
    [[ -z "$value" || "$value" == none ]]
}

# globe_is_true VALUE: true for 1/true/yes/on (any case).
globe_is_true() {
    case "${1,,}" in
        1 | true | yes | on) return 0 ;;
        *) return 1 ;;
    esac
}

globe_dry_run() {
    globe_is_true "${DRY_RUN:-0}"
}

# globe_bool NAME...: normalise true/false knobs in place, or stop naming the bad one.
globe_bool() {
    local name value
    for name in "$@"; do
        value="${!name:-}"
        case "${value,,}" in
            1 | true | yes | on) printf -v "$name" '%s' true ;;
            0 | false | no | off) printf -v "$name" '%s' false ;;
            *) globe_die "$name='$value' is not a boolean: use true or false" ;;
        esac
    done
}

# globe_int NAME...: the knobs must be whole numbers (or left out with ""/none).
globe_int() {
    local name value
    for name in "$@"; do
        value="${!name:-}"
        globe_is_off "$value" && continue
        [[ "$value" =~ ^[0-9]+$ ]] || globe_die "$name='$value' is not a whole number"
    done
}

# globe_number NAME...: the knobs must be numbers such as 1e-6, 0.5 or 2.
globe_number() {
    local name value
    for name in "$@"; do
        value="${!name:-}"
        globe_is_off "$value" && continue
        [[ "$value" =~ ^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] || globe_die "$name='$value' is not a number"
    done
}

# globe_required NAME...: knobs that cannot be left out.
globe_required() {
    local name
    for name in "$@"; do
        globe_is_off "${!name:-}" && globe_die "$name is empty: it has no ms-swift default to fall back on, set it"
    done
    return 0
}

# --------------------------------------------------------------------------- paths

# globe_resolve_path VALUE: an existing path as an absolute one (looked up in the working
# directory, then in the repo root); anything else (a hub id, a registered dataset name) as is.
# A ms-swift subset/sample suffix (DATASET=file.jsonl#1000) is kept.
globe_resolve_path() {
    local value="$1" base suffix=""
    base="${value%%#*}"
    [[ "$value" == *"#"* ]] && suffix="#${value#*#}"
    if [[ -n "$base" && -e "$base" ]]; then
        printf '%s%s' "$(realpath -- "$base")" "$suffix"
    elif [[ -n "$base" && "$base" != /* && -e "$GLOBE_ROOT/$base" ]]; then
        printf '%s%s' "$(realpath -- "$GLOBE_ROOT/$base")" "$suffix"
    else
        printf '%s' "$value"
    fi
}

# globe_latest_checkpoint DIR: the newest checkpoint ms-swift wrote under DIR
# (DIR/vN-DATE-TIME/checkpoint-STEP, highest version then highest step), or nothing.
globe_latest_checkpoint() {
    local dir="$1"
    [[ -d "$dir" ]] || return 0
    find "$dir" -mindepth 2 -maxdepth 2 -type d -name 'checkpoint-*' ! -name '*-merged' -print 2>/dev/null |
        sort -V | tail -n 1 || true
}

# --------------------------------------------------------------------------- model families

# globe_model_family: defaults for MODEL, MODEL_TYPE, TEMPLATE and MAX_PIXELS from MODEL_FAMILY.
# MODEL_TYPE/TEMPLATE are ms-swift's names (`swift sft --help`); passing them explicitly lets a
# local checkpoint directory load without ms-swift guessing its family.
globe_model_family() {
    : "${MODEL_FAMILY:=qwen2_5_vl}"
    local model model_type template max_pixels
    case "$MODEL_FAMILY" in
        qwen2_5_vl)
            model=Qwen/Qwen2.5-VL-7B-Instruct
            model_type=qwen2_5_vl
            template=qwen2_5_vl
            max_pixels=1003520  # the paper's image budget: 1280 visual tokens of 28x28 pixels
            ;;
        internvl3)
            model=OpenGVLab/InternVL3-8B
            model_type=internvl_chat
            template=internvl2_5
            max_pixels=""  # InternVL tiles images instead; its knob is MAX_NUM (ms-swift default 12)
            ;;
        *)
            globe_die "MODEL_FAMILY='$MODEL_FAMILY' is not one of: qwen2_5_vl, internvl3" \
                "(for another model set MODEL, MODEL_TYPE and TEMPLATE yourself)"
            ;;
    esac
    : "${MODEL:=$model}"
    : "${MODEL_TYPE=$model_type}"
    : "${TEMPLATE=$template}"
    : "${MAX_PIXELS=$max_pixels}"
    : "${MAX_NUM=}"
    MODEL="$(globe_resolve_path "$MODEL")"
}

# --------------------------------------------------------------------------- building the command

# globe_command PROGRAM ARGS...: start the command (flags are appended after).
globe_command() {
    GLOBE_CMD=("$@")
}

# globe_note TEXT: what globe_run prints after the command (e.g. the export lines for clients).
globe_note() {
    GLOBE_NOTE="$1"
}

# globe_env NAME VALUE: run the command with NAME=VALUE (skipped when VALUE is empty).
globe_env() {
    if [[ -n "$2" ]]; then
        GLOBE_ENV+=("$1=$2")
    fi
}

# globe_flag NAME VALUE...: --NAME VALUE... (always).
globe_flag() {
    local name="$1"
    shift
    GLOBE_CMD+=("--$name" "$@")
}

# globe_opt NAME VALUE: --NAME VALUE, left out when VALUE is "" or none.
globe_opt() {
    if ! globe_is_off "$2"; then
        GLOBE_CMD+=("--$1" "$2")
    fi
}

# globe_split VALUE: the words of VALUE (split on spaces, tabs and newlines; no globbing) in
# the array GLOBE_WORDS.
globe_split() {
    GLOBE_WORDS=()
    read -r -d '' -a GLOBE_WORDS <<<"$1" || true
}

# globe_list NAME VALUE: --NAME WORD1 WORD2..., left out when VALUE is "" or none.
globe_list() {
    globe_is_off "$2" && return 0
    globe_split "$2"
    GLOBE_CMD+=("--$1" "${GLOBE_WORDS[@]}")
}

# globe_distributed_env: GPUs per node and the multi-node rendezvous, for ms-swift's torchrun.
globe_distributed_env() {
    local name
    globe_int NPROC_PER_NODE NNODES NODE_RANK MASTER_PORT
    for name in NPROC_PER_NODE NNODES NODE_RANK MASTER_ADDR MASTER_PORT; do
        globe_env "$name" "${!name:-}"
    done
}

# globe_image_env: the image-size variables the model family reads (MAX_PIXELS: Qwen; MAX_NUM: InternVL).
globe_image_env() {
    globe_int MAX_PIXELS MAX_NUM
    globe_is_off "${MAX_PIXELS:-}" || globe_env MAX_PIXELS "$MAX_PIXELS"
    globe_is_off "${MAX_NUM:-}" || globe_env MAX_NUM "$MAX_NUM"
}

# globe_extra_args ARGS...: EXTRA_ARGS (split on whitespace), then the launcher's own arguments.
globe_extra_args() {
    globe_split "${EXTRA_ARGS:-}"
    GLOBE_CMD+=("${GLOBE_WORDS[@]}" "$@")
}

# globe_plugins DEFAULT_FILES...: --external_plugins (EXTERNAL_PLUGINS overrides; none: no plugins).
globe_plugins() {
    local default="$*"
    : "${EXTERNAL_PLUGINS=$default}"
    if globe_is_off "$EXTERNAL_PLUGINS"; then
        return 0
    fi
    local file
    globe_split "$EXTERNAL_PLUGINS"
    local -a plugins=("${GLOBE_WORDS[@]}")
    if ! globe_dry_run; then
        for file in "${plugins[@]}"; do
            [[ -f "$file" ]] || globe_die "plugin $file does not exist (EXTERNAL_PLUGINS); run from a full GLOBE checkout"
        done
    fi
    globe_flag external_plugins "${plugins[@]}"
}

# globe_dataset_flag: --dataset with each local path resolved (DATASET: names and/or paths).
globe_dataset_flag() {
    globe_required DATASET
    local word
    local -a datasets=()
    globe_split "$DATASET"
    for word in "${GLOBE_WORDS[@]}"; do
        datasets+=("$(globe_resolve_path "$word")")
    done
    globe_flag dataset "${datasets[@]}"
}

# globe_training_defaults: the defaults every training launcher shares (the paper's runs agree
# on them); each launcher sets its own recipe (learning rate, epochs, batch) before calling this.
globe_training_defaults() {
    : "${MAX_STEPS=}"
    : "${FREEZE_VIT=true}"
    : "${FREEZE_ALIGNER=true}"
    : "${GRADIENT_CHECKPOINTING=true}"
    : "${SAVE_STEPS=200}"
    : "${SAVE_TOTAL_LIMIT=5}"
    : "${LOGGING_STEPS=1}"
    : "${DATALOADER_NUM_WORKERS=4}"
}

# globe_sft: the `swift sft` command train_sft.sh and train_rm.sh share, after each has set its
# own recipe knobs; the launcher then adds its own flags, EXTRA_ARGS and runs it.
globe_sft() {
    : "${SWIFT_BIN=swift}"
    globe_training_defaults
    globe_image_env
    globe_distributed_env
    globe_command "$SWIFT_BIN" sft
    globe_training_flags
    globe_plugins "$GLOBE_DATASET_PLUGIN"
}

# globe_training_flags: the flags `swift sft` and `swift rlhf` share. Each launcher sets the
# paper's defaults for these knobs before calling it.
globe_training_flags() {
    globe_required MODEL OUTPUT_DIR TUNER_TYPE
    globe_bool FREEZE_VIT FREEZE_ALIGNER GRADIENT_CHECKPOINTING
    globe_int BATCH_SIZE GRAD_ACCUM MAX_LENGTH MAX_STEPS SAVE_STEPS SAVE_TOTAL_LIMIT LOGGING_STEPS \
        DATALOADER_NUM_WORKERS NUM_TRAIN_EPOCHS
    globe_number LEARNING_RATE WARMUP_RATIO

    globe_flag model "$MODEL"
    globe_opt model_type "$MODEL_TYPE"
    globe_opt template "$TEMPLATE"
    globe_dataset_flag
    globe_flag tuner_type "$TUNER_TYPE"
    globe_opt torch_dtype "$TORCH_DTYPE"
    globe_flag output_dir "$OUTPUT_DIR"
    globe_opt num_train_epochs "$NUM_TRAIN_EPOCHS"
    globe_opt max_steps "$MAX_STEPS"
    globe_opt per_device_train_batch_size "$BATCH_SIZE"
    globe_opt per_device_eval_batch_size "$BATCH_SIZE"
    globe_opt gradient_accumulation_steps "$GRAD_ACCUM"
    globe_opt learning_rate "$LEARNING_RATE"
    globe_opt warmup_ratio "$WARMUP_RATIO"
    globe_opt max_length "$MAX_LENGTH"
    globe_flag freeze_vit "$FREEZE_VIT"
    globe_flag freeze_aligner "$FREEZE_ALIGNER"
    globe_flag gradient_checkpointing "$GRADIENT_CHECKPOINTING"
    globe_deepspeed_flag
    globe_flag save_strategy steps
    globe_opt save_steps "$SAVE_STEPS"
    globe_opt save_total_limit "$SAVE_TOTAL_LIMIT"
    globe_opt logging_steps "$LOGGING_STEPS"
    globe_opt dataloader_num_workers "$DATALOADER_NUM_WORKERS"
}

# globe_deepspeed_flag: --deepspeed zero2|zero3|<config.json>; ""/none/false: no DeepSpeed.
globe_deepspeed_flag() {
    if globe_is_off "$DEEPSPEED" || [[ "${DEEPSPEED,,}" == false ]]; then
        return 0
    fi
    local value="$DEEPSPEED"
    [[ "$value" == *.json ]] && value="$(globe_resolve_path "$value")"
    globe_flag deepspeed "$value"
}

# --------------------------------------------------------------------------- GRPO

# globe_grpo ARGS...: the GRPO run shared by train_{one_reward,two_rewards,all_rewards}.sh.
# The launcher sets REWARD_FUNCS, REWARD_WEIGHTS and OUTPUT_DIR first; every other default is
# the paper's recipe: full fine-tuning, bf16, ZeRO-3, lr 1e-6, 1 epoch, temperature 1.0,
# 16 generations, beta 0.001, completions up to 1024 tokens, vLLM rollouts.
globe_grpo() {
    globe_model_family
    : "${DATASET=mp16-reason-train}"
    : "${NPROC_PER_NODE=8}"
    : "${TUNER_TYPE=full}"
    : "${TORCH_DTYPE=bfloat16}"
    : "${DEEPSPEED=zero3}"
    : "${LEARNING_RATE=1e-6}"
    : "${NUM_TRAIN_EPOCHS=1}"
    # 8 completions per GPU x 8 GPUs x 2 accumulation steps = 128 = 8 prompts x 16 generations
    : "${BATCH_SIZE=8}"
    : "${GRAD_ACCUM=2}"
    : "${MAX_LENGTH=8192}"
    : "${WARMUP_RATIO=0.01}"
    : "${NUM_GENERATIONS=16}"
    : "${TEMPERATURE=1.0}"
    : "${BETA=0.001}"
    : "${MAX_COMPLETION_LENGTH=1024}"
    : "${NUM_ITERATIONS=1}"
    : "${LOG_COMPLETIONS=true}"
    : "${USE_VLLM=true}"
    : "${VLLM_MODE=colocate}"
    : "${VLLM_GPU_MEMORY_UTILIZATION=0.5}"   # colocate: vLLM's share of each GPU, the rest trains
    : "${VLLM_TENSOR_PARALLEL_SIZE=1}"
    : "${VLLM_MAX_MODEL_LEN=8192}"
    : "${SLEEP_LEVEL=1}"                     # colocate: vLLM frees its memory while the model trains
    : "${VLLM_SERVER_HOST=}"                 # server: the host(s) running rollout_server.sh
    : "${VLLM_SERVER_PORT=8000}"
    : "${ASYNC_GENERATE=false}"              # server only: roll out the next batch while training
    : "${GLOBE_RM_URL=}"
    : "${SWIFT_BIN=swift}"
    globe_training_defaults

    globe_required REWARD_FUNCS REWARD_WEIGHTS
    globe_bool USE_VLLM LOG_COMPLETIONS ASYNC_GENERATE
    globe_int NUM_GENERATIONS MAX_COMPLETION_LENGTH NUM_ITERATIONS VLLM_TENSOR_PARALLEL_SIZE \
        VLLM_MAX_MODEL_LEN SLEEP_LEVEL
    globe_number TEMPERATURE BETA VLLM_GPU_MEMORY_UTILIZATION

    globe_split "$REWARD_FUNCS"
    local -a funcs=("${GLOBE_WORDS[@]}")
    globe_split "$REWARD_WEIGHTS"
    local -a weights=("${GLOBE_WORDS[@]}")
    if ((${#funcs[@]} != ${#weights[@]})); then
        globe_die "REWARD_FUNCS has ${#funcs[@]} reward(s) (${funcs[*]}) but REWARD_WEIGHTS has" \
            "${#weights[@]} weight(s) (${weights[*]}): give one weight per reward, in the same order"
    fi
    local weight
    for weight in "${weights[@]}"; do
        [[ "$weight" =~ ^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] ||
            globe_die "REWARD_WEIGHTS has '$weight', which is not a number"
    done

    # The locatability reward asks the served reward model (serve_rm.sh) through GLOBE_RM_URL.
    if [[ " ${funcs[*]} " == *" globe_locatability "* || " ${funcs[*]} " == *" globe_locatablity "* ]]; then
        if [[ -z "$GLOBE_RM_URL" ]]; then
            if globe_dry_run; then
                globe_warn "GLOBE_RM_URL is not set; a real run needs it for globe_locatability"
            else
                globe_die "GLOBE_RM_URL is not set: the globe_locatability reward needs the reward model's" \
                    "endpoint. Start it with serve_rm.sh (it prints the export line), then" \
                    "export GLOBE_RM_URL=http://RM_HOST:8001/v1 and rerun"
            fi
        fi
    fi

    globe_image_env
    globe_distributed_env
    globe_env GLOBE_RM_URL "$GLOBE_RM_URL"
    globe_env GLOBE_RM_MODEL "${GLOBE_RM_MODEL:-}"

    globe_command "$SWIFT_BIN" rlhf --rlhf_type grpo
    globe_training_flags
    globe_plugins "$GLOBE_REWARD_PLUGIN" "$GLOBE_DATASET_PLUGIN"
    globe_flag reward_funcs "${funcs[@]}"
    globe_flag reward_weights "${weights[@]}"
    globe_opt num_generations "$NUM_GENERATIONS"
    globe_opt temperature "$TEMPERATURE"
    globe_opt beta "$BETA"
    globe_opt max_completion_length "$MAX_COMPLETION_LENGTH"
    globe_opt num_iterations "$NUM_ITERATIONS"
    globe_flag log_completions "$LOG_COMPLETIONS"

    if [[ "$USE_VLLM" == true ]]; then
        globe_flag use_vllm true
        case "$VLLM_MODE" in
            colocate)
                globe_flag vllm_mode colocate
                globe_opt vllm_gpu_memory_utilization "$VLLM_GPU_MEMORY_UTILIZATION"
                globe_opt vllm_tensor_parallel_size "$VLLM_TENSOR_PARALLEL_SIZE"
                globe_opt vllm_max_model_len "$VLLM_MAX_MODEL_LEN"
                globe_opt sleep_level "$SLEEP_LEVEL"
                if [[ "$ASYNC_GENERATE" == true ]]; then
                    globe_die "ASYNC_GENERATE=true needs VLLM_MODE=server (ms-swift generates asynchronously only on a rollout server)"
                fi
                ;;
            server)
                if globe_is_off "$VLLM_SERVER_HOST"; then
                    globe_die "VLLM_MODE=server needs VLLM_SERVER_HOST: the host(s) where rollout_server.sh runs"
                fi
                globe_split "$VLLM_SERVER_HOST"
                globe_flag vllm_mode server
                globe_flag vllm_server_host "${GLOBE_WORDS[@]}"
                globe_list vllm_server_port "$VLLM_SERVER_PORT"
                globe_flag async_generate "$ASYNC_GENERATE"
                ;;
            *)
                globe_die "VLLM_MODE='$VLLM_MODE' is not one of: colocate, server"
                ;;
        esac
    else
        globe_flag use_vllm false
    fi
    globe_extra_args "$@"
    globe_run "$OUTPUT_DIR"
}

# --------------------------------------------------------------------------- serving

# globe_serve: the OpenAI-compatible server for MODEL, by SERVE_BACKEND:
#   vllm  (default) `vllm serve`, what GPU clusters use;
#   swift `swift deploy`, ms-swift's own server: INFER_BACKEND=transformers (default) runs without a
#         GPU or vLLM (a laptop, CI, `make demo`), INFER_BACKEND=vllm on GPUs.
# Both speak the same API (/v1/models, /v1/chat/completions with logprobs), so rewards and
# eval.py cannot tell them apart.
globe_serve() {
    : "${SERVE_BACKEND:=vllm}"
    case "$SERVE_BACKEND" in
        vllm) globe_vllm_serve ;;
        swift) globe_swift_deploy ;;
        *) globe_die "SERVE_BACKEND='$SERVE_BACKEND' is not one of: vllm, swift" ;;
    esac
}

# globe_swift_deploy: `swift deploy` with the serving knobs (SERVED_MODEL_NAME HOST PORT
# INFER_BACKEND TORCH_DTYPE MAX_NEW_TOKENS, and MODEL_TYPE/TEMPLATE so a local checkpoint loads
# without guessing). The image budget reaches it through MAX_PIXELS/MAX_NUM, as in training.
globe_swift_deploy() {
    : "${INFER_BACKEND=transformers}"
    : "${TORCH_DTYPE=}"
    : "${MAX_NEW_TOKENS=}"
    : "${SWIFT_BIN=swift}"
    globe_required MODEL SERVED_MODEL_NAME PORT INFER_BACKEND
    globe_int PORT MAX_NEW_TOKENS
    globe_image_env
    globe_command "$SWIFT_BIN" deploy
    globe_flag model "$MODEL"
    globe_opt model_type "$MODEL_TYPE"
    globe_opt template "$TEMPLATE"
    globe_opt torch_dtype "$TORCH_DTYPE"
    globe_flag infer_backend "$INFER_BACKEND"
    globe_flag served_model_name "$SERVED_MODEL_NAME"
    globe_opt host "$HOST"
    globe_flag port "$PORT"
    globe_opt max_new_tokens "$MAX_NEW_TOKENS"
}


# globe_vllm_serve: `vllm serve MODEL` with the serving knobs (SERVED_MODEL_NAME HOST PORT
# MAX_MODEL_LEN TENSOR_PARALLEL_SIZE GPU_MEMORY_UTILIZATION MM_PROCESSOR_KWARGS).
# MM_PROCESSOR_KWARGS defaults to the training image budget (MAX_PIXELS) for Qwen, so the served
# model sees images at the resolution it was trained on.
globe_vllm_serve() {
    local default_mm=""
    if [[ "$MODEL_FAMILY" == qwen2_5_vl ]] && ! globe_is_off "${MAX_PIXELS:-}"; then
        default_mm="{\"max_pixels\": $MAX_PIXELS}"
    fi
    : "${MM_PROCESSOR_KWARGS=$default_mm}"
    globe_required MODEL SERVED_MODEL_NAME PORT
    globe_int PORT MAX_MODEL_LEN TENSOR_PARALLEL_SIZE MAX_PIXELS
    globe_number GPU_MEMORY_UTILIZATION

    globe_command "$VLLM_BIN" serve "$MODEL"
    globe_flag served-model-name "$SERVED_MODEL_NAME"
    globe_opt host "$HOST"
    globe_flag port "$PORT"
    globe_opt max-model-len "$MAX_MODEL_LEN"
    globe_opt tensor-parallel-size "$TENSOR_PARALLEL_SIZE"
    globe_opt gpu-memory-utilization "$GPU_MEMORY_UTILIZATION"
    globe_opt mm-processor-kwargs "$MM_PROCESSOR_KWARGS"
    globe_flag trust-remote-code  # InternVL3 ships its own model code
}

# globe_reachable_host: HOST as other machines should dial it (this machine's name for 0.0.0.0/::).
globe_reachable_host() {
    if [[ -z "$HOST" || "$HOST" == 0.0.0.0 || "$HOST" == "::" ]]; then
        hostname -f 2>/dev/null || hostname
    else
        printf '%s\n' "$HOST"
    fi
}

# --------------------------------------------------------------------------- printing and running

# globe_quote WORD: WORD as the shell reads it back (single quotes only where needed).
globe_quote() {
    local word="$1"
    if [[ "$word" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
        printf '%s' "$word"
    else
        printf "'%s'" "${word//\'/\'\\\'\'}"
    fi
}

# globe_print_command: the environment line and the command, one flag per line, as a shell
# command you can paste (lines end in a backslash).
globe_print_command() {
    local word out=""
    if ((${#GLOBE_ENV[@]})); then
        for word in "${GLOBE_ENV[@]}"; do
            out+="${out:+ }${word%%=*}=$(globe_quote "${word#*=}")"
        done
        printf '%s \\\n' "$out"
        out=""
    fi
    for word in "${GLOBE_CMD[@]}"; do
        if [[ "$word" == --* ]]; then
            out+=$' \\\n    '
        elif [[ -n "$out" ]]; then
            out+=" "
        fi
        out+="$(globe_quote "$word")"
    done
    printf '%s\n' "$out"
}

# globe_run [DIR_TO_CREATE]: print the command (and GLOBE_NOTE after it, if set); unless
# DRY_RUN, create DIR and exec the command.
globe_run() {
    if globe_dry_run; then
        printf '# %s (DRY_RUN=1: printed, not run)\n' "$GLOBE_LAUNCHER"
    else
        printf '# %s: running\n' "$GLOBE_LAUNCHER"
    fi
    globe_print_command
    if [[ -n "${GLOBE_NOTE:-}" ]]; then
        printf '\n%s\n' "$GLOBE_NOTE"
    fi
    if globe_dry_run; then
        return 0
    fi
    command -v "${GLOBE_CMD[0]}" >/dev/null 2>&1 ||
        globe_die "'${GLOBE_CMD[0]}' is not on PATH: pip install -r requirements_globe.txt (see README.md)"
    if [[ -n "${1:-}" ]]; then
        mkdir -p -- "$1"
    fi
    exec env "${GLOBE_ENV[@]}" "${GLOBE_CMD[@]}"
}
