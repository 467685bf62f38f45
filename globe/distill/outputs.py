"""What a distillation run writes, and how it survives being killed at any instant.

Layout of ``--out-dir``::

    train.jsonl              kept rows, the layout ``globe-data convert`` writes and
                             ``globe/dataset.py`` registers (``mp16-reason-train`` / ``-sft``)
    rm.jsonl                 reward-model rows (image + reasoning -> locatable yes/no), balanced
                             (``mp16-reason-rm``); rebuilt from the candidates at the end of a run
    report.json              what happened: rows in/kept, drops by reason, per-teacher agreement, tokens
    distill/run.json         the settings the outputs were made with (a resume must match them)
    distill/gt.jsonl         the ground truth, normalised by ``globe-data`` (absolute image paths)
    distill/ledger.jsonl     one line per processed image: outcome, reason, raw teacher answers, usage
    distill/rm_candidates.jsonl  every reward-model sample, before balancing
    .globe-distill.lock      held while a run uses the folder: a second run is refused naming the
                             first one's pid (``globe.runfiles.RunLock``; a killed run's lock is taken over)

**The commit protocol.** Each finished image appends its training row (if kept), then its
reward-model candidates, then its ledger line, flushing after each. The ledger line is the
commit: a row is processed iff the ledger has it. On start, a torn last line (a kill in the
middle of a write) is cut off every file, and ``train.jsonl`` / ``rm_candidates.jsonl`` lose any
line whose image the ledger does not list (a kill between the data lines and the ledger line);
those images are then processed again. So a SIGKILL at any point loses at most the rows in
flight, and never leaves a duplicate. A row that *failed* (a teacher or the verifier could not be
reached after retries) is in the ledger with outcome ``failed`` and no data lines; the next run
tries it again (unless ``--no-retry-failed``) and its new ledger line supersedes the old one.

Every file is written through :mod:`globe.runfiles` (appends of whole lines, atomic rewrites,
one text policy: a lone surrogate in a teacher's answer is written as U+FFFD).

**Reward-model balance.** Candidates are kept in full; ``rm.jsonl`` is rewritten at the end of
every run by downsampling the majority label to the minority's count. Which majority samples
stay is decided by a seeded hash of each sample's id, not by arrival order, so a resumed run and
an uninterrupted one write the same rows, and growing the data set only adds rows.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from globe import runfiles
from globe.catalog import JSONL_KEYS as OUTPUT_KEYS
from globe.catalog import GroundTruthRow
from globe.runfiles import AppendOnlyFile, RunLocked, atomic_write_lines, atomic_write_text, json_line, truncate_torn_tail

SFT_FILE = "train.jsonl"
RM_FILE = "rm.jsonl"
REPORT_FILE = "report.json"
WORK_DIR = "distill"
RUN_FILE = f"{WORK_DIR}/run.json"
LOCK_FILE = ".globe-distill.lock"
GT_FILE = f"{WORK_DIR}/gt.jsonl"
LEDGER_FILE = f"{WORK_DIR}/ledger.jsonl"
RM_CANDIDATES_FILE = f"{WORK_DIR}/rm_candidates.jsonl"
RM_BALANCE_MODES = ("downsample", "none")


class OutputError(RuntimeError):
    """The output folder cannot be used as asked; the message says why and what to do."""


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file (blank lines skipped); raise OutputError naming the line if one is not JSON."""
    return runfiles.iter_jsonl(path, error=OutputError)


def sample_key(seed: int, sample_id: str) -> int:
    """A stable pseudo-random rank for a sample, independent of the order samples arrive in."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{sample_id}".encode(), digest_size=8).digest(), "big")


def image_ref_for(out_dir: Path) -> Callable[[GroundTruthRow], str]:
    """How a written row names its image: relative to ``out_dir`` (the folder moves with its images)."""

    def image_ref(row: GroundTruthRow) -> str:
        return Path(os.path.relpath(row.image_path, out_dir)).as_posix()

    return image_ref


@dataclass
class LedgerState:
    """What the ledger says: the last outcome per image id."""

    outcome: dict[str, str] = field(default_factory=dict)

    def done(self, image_id: str, retry_failed: bool) -> bool:
        """Whether to skip this id: processed, and not a failure we were asked to retry."""
        last = self.outcome.get(image_id)
        return last is not None and not (retry_failed and last == "failed")

    @property
    def kept_ids(self) -> set[str]:
        return {i for i, o in self.outcome.items() if o == "kept"}

    @property
    def settled_ids(self) -> set[str]:
        return {i for i, o in self.outcome.items() if o != "failed"}


class OutputStore:
    """The files of one ``--out-dir`` (see the module docstring)."""

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir).expanduser().resolve()
        self._handles: dict[str, AppendOnlyFile] = {}
        self._lock = runfiles.RunLock(self.out_dir / LOCK_FILE, what=f"--out-dir {self.out_dir}")

    def path(self, name: str) -> Path:
        return self.out_dir / name

    # -- setup ----------------------------------------------------------------------------------

    def prepare(self, settings: Mapping[str, Any], overwrite: bool = False) -> bool:
        """Create or reopen the folder for ``settings``; True when resuming an earlier run.

        Refuses a folder holding a ``train.jsonl``/``rm.jsonl`` that no distillation wrote (it
        would be rewritten), and a resume whose settings differ from those the processed rows
        were made with. A folder whose earlier run processed no row is simply started afresh.
        Takes the folder's lock first (:class:`globe.runfiles.RunLock`, held until :meth:`release`
        or the process ends): a second run on the same folder is refused with the holder's pid.
        """
        try:
            self._lock.acquire()
        except RunLocked as exc:
            raise OutputError(str(exc)) from None
        run_path = self.path(RUN_FILE)
        if overwrite:
            self.remove_outputs()
        elif not run_path.exists():
            foreign = [n for n in (SFT_FILE, RM_FILE) if self.path(n).exists()]
            if foreign:
                raise OutputError(
                    f"{self.out_dir} already holds {', '.join(foreign)} not written by globe-distill "
                    f"(no {RUN_FILE}); choose an empty --out-dir, or pass --overwrite to replace them"
                )
        if run_path.exists():
            try:
                previous = (runfiles.read_settings(run_path) or {}).get("settings", {})
            except runfiles.RunFileError as exc:
                raise OutputError(f"{exc}; pass --overwrite to start afresh") from None
            differing = runfiles.changed_settings(previous, settings, missing_counts=True)
            if not differing:
                return True
            if self._has_processed_rows():
                detail = "; ".join(f"{k}: was {previous.get(k)!r}, now {settings.get(k)!r}" for k in differing)
                raise OutputError(
                    f"{self.out_dir} holds a run made with other settings ({detail}). Resume with the same "
                    "flags, use another --out-dir, or pass --overwrite to start again."
                )
            # The earlier run stopped before its first row (a typo in a flag, a server down):
            # nothing depends on its settings, so start afresh rather than lock the folder.
            self.remove_outputs()
        self.path(WORK_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_path, json.dumps({"version": 1, "settings": dict(settings)}, indent=2) + "\n")
        return False

    def release(self) -> None:
        """Drop the folder's lock (also dropped when the process ends, however it ends)."""
        self._lock.release()

    def _has_processed_rows(self) -> bool:
        ledger = self.path(LEDGER_FILE)
        return ledger.exists() and ledger.stat().st_size > 0

    def remove_outputs(self) -> None:
        """Delete what globe-distill writes here (nothing else in the folder is touched)."""
        for name in (SFT_FILE, RM_FILE, REPORT_FILE):
            self.path(name).unlink(missing_ok=True)
        shutil.rmtree(self.path(WORK_DIR), ignore_errors=True)

    def repair(self) -> dict[str, int]:
        """Undo what a kill left half-done (see the module docstring); returns lines removed per file."""
        removed: dict[str, int] = {}
        for name in (LEDGER_FILE, SFT_FILE, RM_CANDIDATES_FILE):
            if truncate_torn_tail(self.path(name)):
                removed[name] = removed.get(name, 0) + 1
        state = self.ledger_state()
        kept, settled = state.kept_ids, state.settled_ids
        for name, allowed, key in ((SFT_FILE, kept, "image_id"), (RM_CANDIDATES_FILE, settled, "sample_id")):
            stale = self._filter_file(self.path(name), allowed, key)
            if stale:
                removed[name] = removed.get(name, 0) + stale
        return removed

    def _filter_file(self, path: Path, allowed_ids: set[str], unique_key: str) -> int:
        """Keep lines whose image is committed, first occurrence of each key; rewrite only if needed."""
        if not path.exists():
            return 0
        seen: set[str] = set()
        stale = 0
        for row in iter_jsonl(path):
            key = row.get(unique_key)
            if row.get("image_id") not in allowed_ids or key in seen:
                stale += 1
            seen.add(key)
        if not stale:
            return 0
        seen.clear()

        def kept_lines() -> Iterator[str]:
            for row in iter_jsonl(path):
                key = row.get(unique_key)
                if row.get("image_id") in allowed_ids and key not in seen:
                    yield json_line(row)
                seen.add(key)

        atomic_write_lines(path, kept_lines())
        return stale

    def ledger_state(self) -> LedgerState:
        state = LedgerState()
        for entry in iter_jsonl(self.path(LEDGER_FILE)):
            state.outcome[entry["image_id"]] = entry["outcome"]
        return state

    def ledger_entries(self) -> Iterator[dict[str, Any]]:
        return iter_jsonl(self.path(LEDGER_FILE))

    # -- appending --------------------------------------------------------------------------------

    def open(self) -> None:
        self.path(WORK_DIR).mkdir(parents=True, exist_ok=True)
        for name in (SFT_FILE, RM_CANDIDATES_FILE, LEDGER_FILE):
            self._handles[name] = AppendOnlyFile(self.path(name))

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def __enter__(self) -> "OutputStore":
        self.open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _append(self, name: str, rows: list[Mapping[str, Any]]) -> None:
        if rows:
            self._handles[name].write("".join(json_line(r) for r in rows))

    def commit(self, ledger_entry: Mapping[str, Any], sft_row: Mapping[str, Any] | None,
               rm_rows: list[Mapping[str, Any]]) -> None:
        """Append one processed image: data lines first, the ledger line (the commit) last."""
        if not self._handles:
            raise RuntimeError("OutputStore.commit before open(): use `with store:`")
        self._append(SFT_FILE, [sft_row] if sft_row is not None else [])
        self._append(RM_CANDIDATES_FILE, rm_rows)
        self._append(LEDGER_FILE, [ledger_entry])

    # -- finishing --------------------------------------------------------------------------------

    def write_rm(self, balance: str = "downsample", seed: int = 0) -> dict[str, Any]:
        """Rebuild ``rm.jsonl`` from the candidates (see the module docstring); returns the counts."""
        if balance not in RM_BALANCE_MODES:
            raise ValueError(f"balance={balance!r}: choose one of {', '.join(RM_BALANCE_MODES)}")
        candidates = self.path(RM_CANDIDATES_FILE)
        counts = {"yes": 0, "no": 0}
        for row in iter_jsonl(candidates):
            counts[row["locatable"]] += 1
        keep_only: set[str] | None = None
        majority = max(counts, key=lambda k: (counts[k], k))
        target = min(counts.values())
        if balance == "downsample" and counts["yes"] != counts["no"]:
            keyed = ((sample_key(seed, r["sample_id"]), r["sample_id"])
                     for r in iter_jsonl(candidates) if r["locatable"] == majority)
            ranked = heapq.nsmallest(target, keyed)
            keep_only = {sample_id for _, sample_id in ranked}
        written = {"yes": 0, "no": 0}

        def balanced_lines() -> Iterator[str]:
            for row in iter_jsonl(candidates):
                if keep_only is not None and row["locatable"] == majority and row["sample_id"] not in keep_only:
                    continue
                written[row["locatable"]] += 1
                yield json_line({key: row.get(key) for key in OUTPUT_KEYS})

        atomic_write_lines(self.path(RM_FILE), balanced_lines())
        return {"balance": balance, "candidates": counts, "written": written}

    def write_report(self, report: Mapping[str, Any]) -> Path:
        path = self.path(REPORT_FILE)
        atomic_write_text(path, json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n")
        return path
