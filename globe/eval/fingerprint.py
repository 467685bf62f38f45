"""The run fingerprint: the settings that decide a run's answers, kept beside its CSV.

A resume appends new rows to the old ones and scores them as one run, so every row must come
from the same model, prompt, sampling, geocoder and ground truth. ``<output>.run.json``
(:func:`fingerprint_path`) records those settings, written atomically when a run starts
afresh. A resume compares and refuses any difference (:class:`RunSettingsMismatch`, naming
each differing option and ``--overwrite``) before touching the CSV.

Recorded and compared (:data:`COMPARED_SETTINGS`): the served model's name, ``--use-cot`` and
the prompt text itself, the system prompt, temperature, max tokens and ``--extra`` (their
effective values, so ``--released-settings`` is covered by what it sets), the geocoder, whether
the ground truth's LAT/LON header was read swapped (``--swap-lat-lon``'s effect) and the
SHA-256 of the ground-truth file (its path may move; its content may not change). Settings
that only change how fast or how much is evaluated (concurrency, timeout, retries, ``--limit``,
``--quiet``, ``--no-plots``) are not compared, so changing them never blocks a resume. Keys
missing from either record are not compared (a later version may record more).

A CSV without a settings file (written before fingerprints existed) resumes with a warning,
and this run's settings are recorded from then on.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from globe.runfiles import RunFileError, canonical, changed_settings, file_sha256, read_settings, write_settings

FINGERPRINT_VERSION = 1

#: Fingerprint key -> how the user sets it, as the refusal names it.
COMPARED_SETTINGS: dict[str, str] = {
    "model": "--model (the served model)",
    "use_cot": "--use-cot",
    "prompt": "the prompt text (globe.prompts)",
    "system_prompt": "--system-prompt",
    "temperature": "--temperature",
    "max_tokens": "--max-tokens",
    "samples": "--samples",
    "extra": "--extra",
    "geocoder": "--geocoder",
    "lat_lon_swapped": "--swap-lat-lon (whether LAT/LON were read swapped)",
    "gt_sha256": "the ground-truth file's content (--dataset / --gt-file)",
}
#: What ``--released-settings`` sets: a difference there gets a hint.
RELEASED_SETTINGS_KEYS = frozenset({"system_prompt", "temperature", "max_tokens", "extra"})


class RunSettingsMismatch(ValueError):
    """An existing output CSV was written with settings that change the answers."""


def fingerprint_path(output: str | os.PathLike) -> Path:
    """``out.csv`` -> ``out.csv.run.json``: tied to the CSV's full name, never to a summary's."""
    output = Path(output)
    return output.with_name(output.name + ".run.json")


def run_fingerprint(
    *,
    model: str,
    prompt: str,
    system_prompt: str | None,
    temperature: float,
    max_tokens: int,
    extra: Mapping[str, Any] | None,
    gt_file: str | os.PathLike,
    lat_lon_swapped: bool,
    image_root: str | os.PathLike | None = None,
    **more: Any,
) -> dict[str, Any]:
    """The record written beside a run's CSV; ``more`` adds settings the caller knows (``use_cot``, ``geocoder``)."""
    record: dict[str, Any] = {
        "version": FINGERPRINT_VERSION,
        "model": model,
        "prompt": prompt,
        "system_prompt": system_prompt or None,
        "temperature": float(temperature),
        "max_tokens": int(max_tokens),
        "extra": dict(extra or {}),
        "lat_lon_swapped": bool(lat_lon_swapped),
        "gt_sha256": file_sha256(gt_file),
        **{key: value for key, value in more.items() if value is not None},
        # For people reading the file; not compared:
        "gt_file": str(Path(gt_file).resolve()),
        "image_root": str(Path(image_root).resolve()) if image_root is not None else None,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return canonical(record)


def _short(key: str, value: Any) -> str:
    if key == "gt_sha256" and isinstance(value, str):
        return f"sha256 {value[:12]}"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, (dict, list)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, str]:
    """Compared setting that differs -> ``"--option: old -> new"`` (see module docstring)."""
    current = canonical(dict(current))
    changed = changed_settings(recorded, current, COMPARED_SETTINGS)
    if "use_cot" in changed and "prompt" in changed:
        changed.remove("prompt")  # --use-cot is why the prompt text differs
    lines = {}
    for key in changed:
        lines[key] = f"{COMPARED_SETTINGS[key]}: {_short(key, recorded[key])} -> {_short(key, current[key])}"
        if key == "gt_sha256":
            lines[key] += f" ({recorded.get('gt_file')} -> {current.get('gt_file')})"
    return lines


def read_fingerprint(output: str | os.PathLike) -> dict[str, Any] | None:
    """The recorded settings of ``output``, ``None`` when it has none; raises on an unreadable file."""
    path = fingerprint_path(output)
    try:
        return read_settings(path)
    except RunFileError as exc:
        raise RunSettingsMismatch(
            f"{exc}; it records the settings of {output}'s rows. "
            f"Pass --overwrite to start afresh, or delete {path} to resume without the check."
        ) from exc


def check_resume(output: str | os.PathLike, current: Mapping[str, Any]) -> str | None:
    """Before resuming ``output``: raise :class:`RunSettingsMismatch` if its rows came from other settings.

    Returns a warning when ``output`` has no settings file (an older run), else ``None``.
    """
    recorded = read_fingerprint(output)
    path = fingerprint_path(output)
    if recorded is None:
        return (f"{output} has no run settings file ({path.name}): it was written by an older globe-eval, so the "
                f"model and settings of its rows cannot be checked. Resuming anyway; if they came from another "
                f"model or prompt, rerun with --overwrite. This run's settings are recorded from now on.")
    lines = differences(recorded, current)
    if not lines:
        return None
    hint = ""
    if RELEASED_SETTINGS_KEYS & set(lines):
        hint = " (--released-settings sets the system prompt, temperature, max tokens and --extra penalties.)"
    raise RunSettingsMismatch(
        f"{output} holds rows from a run with other settings (recorded in {path.name}):\n  "
        + "\n  ".join(lines.values())
        + f"\nResuming would mix two runs' answers in one summary.{hint} Rerun with the recorded settings to "
          f"resume, pass --overwrite to start afresh, or choose another --output."
    )


def write_fingerprint(output: str | os.PathLike, record: Mapping[str, Any]) -> Path:
    """Write ``record`` beside ``output`` atomically (a kill leaves the old file or the new, never half)."""
    return write_settings(fingerprint_path(output), record)
