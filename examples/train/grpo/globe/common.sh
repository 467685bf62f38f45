# shellcheck shell=bash
#
# common.sh: what every GLOBE launcher in this folder shares. Sourced, never run.
#
# The launchers are thin: each names itself and hands its arguments to globe/launch.py, which
# holds the knob table (one entry per knob: type, default per launcher and per RECIPE, help),
# checks every knob, prints the full command (DRY_RUN=1: prints only) and runs it. Knobs are
# environment variables; set one to "" or "none" to leave its flag out. EXTRA_ARGS and the
# launcher's own arguments are appended last, so they win. See README.md in this folder.
#
# launch.py needs only Python's standard library: GLOBE_PYTHON, else python3 on PATH, runs it.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "common.sh is sourced by the GLOBE launchers; run one of them instead (e.g. train_sft.sh)" >&2
    exit 2
fi

GLOBE_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../../../.." && pwd)"

# globe_launch LAUNCHER ARGS...: replace this shell with globe/launch.py LAUNCHER ARGS...
globe_launch() {
    local python="${GLOBE_PYTHON:-}"
    if [[ -z "$python" ]]; then
        python="$(command -v python3 || command -v python || true)"
    fi
    if [[ -z "$python" ]]; then
        echo "$1.sh: no python3 on PATH: install Python 3.9+ or set GLOBE_PYTHON" >&2
        exit 2
    fi
    exec "$python" "$GLOBE_ROOT/globe/launch.py" "$@"
}
