# shellcheck shell=bash
#
# common.sh: what every GLOBE launcher in this folder does before and after its own command.
# Sourced, never run. It
#   1. runs the launcher from the checkout's root: the commands name GLOBE's files relative to it,
#      as ms-swift's examples do (a relative MODEL, DATASET, OUTPUT_DIR, RM_ADAPTER or DEEPSPEED
#      you give is taken from the directory you started the launcher in);
#   2. reads RECIPE and MODEL_FAMILY, and the family's model, model type, template and image budget
#      from globe/families.py into FAMILY_* variables;
#   3. gives the knobs you have not set RECIPE=globe's values (recipe_globe.sh);
#   4. defines globe_check (knob types, in globe/launch.py), globe_server_first and globe_run
#      (print the command(s), then run them; DRY_RUN=1: print only).
# The helpers in globe/ need only Python's standard library: GLOBE_PYTHON, else python3, runs them.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "common.sh is sourced by the GLOBE launchers; run one of them instead (e.g. train_sft.sh)" >&2
    exit 2
fi

GLOBE_LAUNCHER=$(basename -- "$0" .sh)
GLOBE_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../../../.." && pwd)

RECIPE=${RECIPE:-released}                # released: the paper's scripts; globe: GLOBE's values (recipe_globe.sh)
MODEL_FAMILY=${MODEL_FAMILY:-qwen2_5_vl}  # a family of globe/families.py (qwen2_5_vl, internvl3, qwen3_vl, qwen3_5): model, type, template, image budget
DRY_RUN=${DRY_RUN:-false}                 # 1: print the command(s), run nothing
EXTRA_ARGS=${EXTRA_ARGS:-}                # more flags for the command, split on whitespace; the script's arguments follow

globe_python() {  # a stdlib-only helper of globe/ (its messages name this launcher)
    GLOBE_LAUNCHER=$GLOBE_LAUNCHER "${GLOBE_PYTHON:-python3}" "$@"
}

# 1. from the checkout's root; your relative paths keep pointing where they did
globe_from_caller() {  # NAME: make a relative path in $NAME absolute from the caller's directory
    local value=${!1-}
    if [[ -n $value && $value != /* && ( $1 == OUTPUT_DIR || -e ${value%%#*} ) ]]; then
        printf -v "$1" '%s' "$PWD/$value"
    fi
}
if [[ $PWD != "$GLOBE_ROOT" ]]; then
    for globe_knob in MODEL OUTPUT_DIR RM_ADAPTER DEEPSPEED; do globe_from_caller "$globe_knob"; done
    if [[ -n ${DATASET-} ]]; then  # several datasets; file.jsonl#N samples N rows
        read -ra globe_words <<< "$DATASET"
        for globe_i in "${!globe_words[@]}"; do
            globe_word=${globe_words[$globe_i]}
            globe_from_caller globe_word
            globe_words[globe_i]=$globe_word
        done
        DATASET=${globe_words[*]}
    fi
fi
cd "$GLOBE_ROOT" || exit 2

# 2. the model family (globe/families.py): FAMILY_MODEL, FAMILY_MODEL_TYPE, FAMILY_TEMPLATE,
#    FAMILY_BUDGET_ENV (MAX_PIXELS, IMAGE_MAX_TOKEN_NUM or MAX_NUM) and FAMILY_BUDGET, ...
globe_family=$(globe_python globe/launch.py family "$MODEL_FAMILY")
eval "$globe_family"
# The released GRPO and serving commands set no image budget on Qwen2.5-VL, and so does
# RECIPE=released there; a family the paper never ran gets the released SFT budget in its own unit.
# shellcheck disable=SC2034  # read by the GRPO and serving launchers
if [[ $MODEL_FAMILY == qwen2_5_vl ]]; then RELEASED_RL_BUDGET=""; else RELEASED_RL_BUDGET=$FAMILY_BUDGET; fi

# The family reaches the trainer too: the dataset plugin and the rewards read MODEL_FAMILY (and
# ENABLE_THINKING) for the template's think prefill (globe/families.py); shown when not the default.
FAMILY_ENV=()
if [[ $MODEL_FAMILY != qwen2_5_vl ]]; then FAMILY_ENV+=("MODEL_FAMILY=$MODEL_FAMILY"); fi
if [[ -n ${ENABLE_THINKING-} ]]; then FAMILY_ENV+=("ENABLE_THINKING=$ENABLE_THINKING"); fi

# multi-node training (the training launchers): read by ms-swift's torchrun, shown in the command when set
NNODES=${NNODES-}                         # multi-node training: the number of nodes
NODE_RANK=${NODE_RANK-}                   # multi-node training: this node's rank
MASTER_ADDR=${MASTER_ADDR-}               # multi-node training: the address of node 0
MASTER_PORT=${MASTER_PORT-}               # multi-node training: a free port on node 0

# 3. RECIPE=globe
GLOBE_YOURS=()  # recipe knobs you set yourself (named in the printed header)
globe_differs() {  # LAUNCHERS KNOB VALUE WHY: under RECIPE=globe, KNOB defaults to VALUE in LAUNCHERS
    local scope=",$1," name=$2 value=$3
    if [[ $GLOBE_LAUNCHER == train_*_reward* ]]; then scope=${scope/,grpo,/,$GLOBE_LAUNCHER,}; fi
    if [[ $scope != *",$GLOBE_LAUNCHER,"* ]]; then return 0; fi
    if [[ -n ${!name+x} ]]; then
        GLOBE_YOURS+=("$name")
    elif [[ $RECIPE == globe ]]; then
        printf -v "$name" '%s' "$value"
    fi
}
# shellcheck source=recipe_globe.sh
source "$GLOBE_ROOT/examples/train/grpo/globe/recipe_globe.sh"

# 4. checking, printing and running
globe_check() {  # check every knob globe/launch.py knows for this launcher; normalise booleans and "none"
    local names normalised name
    names=$(globe_python globe/launch.py knobs "$GLOBE_LAUNCHER")
    # shellcheck disable=SC2086,SC2163  # export each knob name (one word each) to the check only
    normalised=$(export $names; globe_python globe/launch.py check "$GLOBE_LAUNCHER")
    eval "$normalised"
    read -ra GLOBE_EXTRA_ARGS -d '' <<< "$EXTRA_ARGS" || true
    TORCHRUN_ENV=()
    for name in NNODES NODE_RANK MASTER_ADDR MASTER_PORT; do
        if [[ -n ${!name} ]]; then TORCHRUN_ENV+=("$name=${!name}"); fi
    done
}

globe_quote() {  # WORD as a shell reads it back
    if [[ $1 =~ ^[A-Za-z0-9_./:,@%+=-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/\'\\\'\'}"
    fi
}

globe_show() {  # [NAME=VALUE...] PROGRAM ARGS...: one variable or flag per line, as ms-swift's examples
    local word line="" started=""
    for word in "$@"; do
        if [[ -z $started && $word =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
            printf '%s=%s \\\n' "${word%%=*}" "$(globe_quote "${word#*=}")"
        elif [[ -z $started ]]; then
            line=$(globe_quote "$word")
            started=1
        elif [[ $word == --* ]]; then
            printf '%s \\\n' "$line"
            line="    $(globe_quote "$word")"
        else
            line+=" $(globe_quote "$word")"
        fi
    done
    printf '%s%s\n' "$line" "${GLOBE_SHOW_SUFFIX:-}"
}

globe_header() {
    local mode="running"
    if [[ $DRY_RUN == true ]]; then mode="DRY_RUN=1: printed, not run"; fi
    echo "# $GLOBE_LAUNCHER.sh ($mode; paths are relative to the GLOBE checkout)"
    echo "# RECIPE=$RECIPE${GLOBE_YOURS[0]:+ (set by you: ${GLOBE_YOURS[*]})}"
}

globe_gpus_besides() {  # TAKEN COUNT: the first COUNT GPU numbers not in the comma-separated TAKEN
    local gpu=0 found=()
    while (( ${#found[@]} < $2 )); do
        if [[ ,$1, != *,$gpu,* ]]; then found+=("$gpu"); fi
        gpu=$((gpu + 1))
    done
    (IFS=,; echo "${found[*]}")
}

globe_reachable() {  # HOST: how other machines reach a server listening on HOST
    if [[ $1 == 0.0.0.0 || $1 == :: ]]; then hostname -f 2> /dev/null || hostname; else echo "$1"; fi
}

globe_mkdir() {  # DIR: mkdir -p DIR, as the released scripts did (not under DRY_RUN)
    if [[ $DRY_RUN != true ]]; then mkdir -p "$1"; fi
}

GLOBE_SERVER=()
globe_server_first() {  # URL TIMEOUT [NAME=VALUE...] PROGRAM ARGS...: start this server before globe_run's command
    GLOBE_SERVER_URL=$1 GLOBE_SERVER_TIMEOUT=$2
    shift 2
    GLOBE_SERVER=("$@")
}

globe_program() {  # [NAME=VALUE...] PROGRAM ...: the program's name
    local word
    for word in "$@"; do
        if [[ ! $word =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then echo "$word"; return; fi
    done
}

globe_run() {  # [NAME=VALUE...] PROGRAM ARGS...: print it (and the server first); unless DRY_RUN, run it
    local program
    globe_header
    if [[ ${#GLOBE_SERVER[@]} -gt 0 ]]; then
        echo "# the rollout server, started first (in the background) and stopped when training ends:"
        GLOBE_SHOW_SUFFIX=" &" globe_show "${GLOBE_SERVER[@]}"
        echo "# training, once $GLOBE_SERVER_URL answers:"
    fi
    globe_show "$@"
    if [[ -n ${GLOBE_NOTE:-} ]]; then printf '\n%s\n' "$GLOBE_NOTE"; fi
    if [[ $DRY_RUN == true ]]; then exit 0; fi
    program=$(globe_program "$@")
    if ! command -v "$program" > /dev/null; then
        echo "$GLOBE_LAUNCHER.sh: '$program' is not on PATH: pip install -r requirements_globe.txt (see README.md)" >&2
        exit 2
    fi
    if [[ ${#GLOBE_SERVER[@]} -eq 0 ]]; then
        exec env "$@"
    fi
    exec "${GLOBE_PYTHON:-python3}" globe/processes.py with-server "$GLOBE_SERVER_URL" "$GLOBE_SERVER_TIMEOUT" \
        "${GLOBE_SERVER[@]}" -- "$@"
}
