"""The run files: how every GLOBE tool writes, appends, reads and locks what a long run produces.

One owner for the rules that make a run survive a kill, a resume and hostile text, so a rule
fixed here holds for ``globe-eval`` (output CSV, ``.run.json``), ``globe-distill`` (JSONL ledger
and outputs, ``run.json``), ``globe-data convert`` (JSONL output) and the geo cache (pickles):

* **Atomic replace** (:func:`atomic_writer`, :func:`atomic_write_bytes`, :func:`atomic_write_text`,
  :func:`atomic_write_lines`): write a temporary file beside the target, fsync, ``os.replace``.
  A kill leaves the old file or the new one, never half.
* **Append** (:class:`AppendOnlyFile`): each record is one ``os.write`` on an ``O_APPEND``
  descriptor, so a SIGKILL loses at most the records in flight, never half of one (a torn tail
  from a full disk is still repaired on resume).
* **Text policy** (:func:`encode_text`): every text written goes through one UTF-8 encoding rule.
  A lone UTF-16 surrogate (``"\\ud83d"``, which JSON allows and models emit) cannot be encoded
  as UTF-8; it is written as U+FFFD (the replacement character), and a split surrogate *pair*
  is joined back into its character. The run goes on; the cell shows where the text was broken.
* **Reading** (:func:`read_csv_records`, :func:`iter_jsonl`): CSV fields of any length (the
  ``csv`` module's default limit of 131,072 characters is lifted, once, here); only a genuinely
  incomplete *last* record counts as torn. Damage anywhere else is an error naming the line
  (:class:`RunFileError`), never a silently shorter file.
* **Torn-tail repair** (:func:`truncate_torn_tail`): cut a JSONL file's incomplete last line.
* **Settings** (:func:`read_settings`, :func:`write_settings`, :func:`changed_settings`,
  :func:`file_sha256`): the record of what made a run's rows, compared before a resume.
* **Folder lock** (:class:`RunLock`): one run per output; a second is refused with the
  holder's pid, and a lock left by a dead process is taken over.
"""
from __future__ import annotations

import csv
import errno
import fcntl
import hashlib
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


class RunFileError(ValueError):
    """A run file cannot be read as written; the message names the file, the line and the way out."""


class RunLocked(RuntimeError):
    """Another live process is writing to the same output; the message names it and its pid."""


# --------------------------------------------------------------------------- text policy


def encode_text(text: str) -> bytes:
    """``text`` as UTF-8, lone surrogates written as U+FFFD (see the module docstring).

    >>> encode_text("ok \\ud83d!").decode("utf-8")
    'ok \\ufffd!'
    >>> encode_text("\\ud83d\\ude00").decode("utf-8") == "\\U0001f600"
    True
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return safe_text(text).encode("utf-8")


def safe_text(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates replaced by U+FFFD (the write policy)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def json_line(record: Mapping[str, Any]) -> str:
    """One compact JSON line (non-ASCII kept readable; text still passes :func:`encode_text` on write)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


# --------------------------------------------------------------------------- atomic replace


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace ``path`` by ``data`` atomically (temporary file, fsync, rename)."""
    return atomic_write_chunks(path, [data])


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` by ``text`` (UTF-8, :func:`encode_text`) atomically."""
    return atomic_write_chunks(path, [encode_text(text)])


def atomic_write_lines(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Replace ``path`` by the concatenated ``lines`` atomically, streaming them (a large file is not held)."""
    return atomic_write_chunks(path, (encode_text(line) for line in lines))


def atomic_write_chunks(path: str | os.PathLike, chunks: Iterable[bytes]) -> Path:
    """Replace ``path`` by the concatenated ``chunks`` atomically."""
    with atomic_writer(path) as handle:
        for chunk in chunks:
            handle.write(chunk)
    return Path(path)


@contextmanager
def atomic_writer(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """The one write-to-temporary, fsync, ``os.replace`` in GLOBE: a binary handle whose content replaces
    ``path`` when the block ends without an exception (the temporary is removed otherwise)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        os.fchmod(descriptor, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- append


class AppendOnlyFile:
    """A file opened for appending whole records, each with one ``os.write`` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @property
    def empty(self) -> bool:
        return self._fd is None or os.fstat(self._fd).st_size == 0

    def write(self, text: str) -> None:
        """Append ``text`` (one or more complete records) in one system call where the OS allows."""
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        data = memoryview(encode_text(text))
        while data:
            data = data[os.write(self._fd, data):]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "AppendOnlyFile":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- reading


def lift_csv_field_limit() -> None:
    """Let ``csv`` read fields of any length (its default stops at 131,072 characters)."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


def read_csv_records(path: str | os.PathLike) -> tuple[list[str], list[list[str]], bool]:
    """``(header, complete records, clean)`` of a CSV that GLOBE appends to.

    Only the *last* record can be torn: one without its final newline, cut inside a quoted field,
    or with too few fields. It is left out and ``clean`` is False, so a resume redoes it. Damage
    followed by more records is not a torn tail: :class:`RunFileError` names its line, rather
    than return a shorter file. Fields may be of any length; undecodable bytes read as U+FFFD.
    """
    lift_csv_field_limit()
    path = Path(path)
    text = path.read_bytes().decode("utf-8", "replace")
    if not text:
        return [], [], True
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[list[str]] = []
    header: list[str] | None = None
    damage: tuple[int, str] | None = None  # the line and what is wrong with the latest unreadable record
    while True:
        first_line = reader.line_num + 1  # where the next record starts (a record may span lines)
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            values, problem = None, str(exc)
        else:
            if not values:
                continue
            problem = None if header is None or len(values) == len(header) else \
                f"{len(values)} fields, the header has {len(header)}"
        if damage is not None:
            raise RunFileError(
                f"{path}:{damage[0]}: cannot be read ({damage[1]}), and records follow it, so it is not a torn "
                f"last line. Repair or remove that line, or start afresh (--overwrite)."
            )
        if problem is not None:
            damage = (first_line, problem)
        elif header is None:
            header = values
        else:
            records.append(values)
    if header is None:
        return [], [], False
    clean = damage is None and text.endswith("\n")
    if not text.endswith("\n") and damage is None and records:
        records.pop()  # the last record was cut mid-write (between fields): redo it
    return header, records, clean


def iter_jsonl(path: str | os.PathLike, error: type[Exception] = RunFileError,
               hint: str = "pass --overwrite to start afresh") -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file (blank lines skipped); raise ``error`` naming the line when one is not a JSON object.

    Nesting too deep for the parser counts as not JSON (a ``RecursionError`` would end the run).
    """
    return (row for _, row in iter_jsonl_lines(path, error, hint))


def iter_jsonl_lines(path: str | os.PathLike, error: type[Exception] = RunFileError,
                     hint: str = "pass --overwrite to start afresh") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` for each row of :func:`iter_jsonl`, for messages that name a row's line."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise error(f"{path}:{number} is not JSON ({type(exc).__name__}: {str(exc)[:200]}); {hint}") from None
            if not isinstance(row, dict):
                raise error(f"{path}:{number} is not a JSON object; {hint}")
            yield number, row


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All rows of a (small) JSONL file."""
    return list(iter_jsonl(path))


def truncate_torn_tail(path: str | os.PathLike) -> bool:
    """Cut a last line that a kill left without its newline or not JSON; True if anything was cut."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        position, tail, start = size, b"", 0
        while position > 0:
            step = min(1 << 16, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
            cut = tail.rfind(b"\n", 0, len(tail) - 1)
            if cut >= 0:
                start = position + cut + 1
                break
        last = tail[start - position:]
        if last.endswith(b"\n"):
            try:
                json.loads(last)
                return False
            except (ValueError, RecursionError):
                pass
        handle.truncate(start)
        return True


# --------------------------------------------------------------------------- settings


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical(value: Any) -> Any:
    """``value`` as it reads back from JSON, so fresh settings compare equal to stored ones."""
    return json.loads(json.dumps(value, sort_keys=True))


def read_settings(path: str | os.PathLike) -> dict[str, Any] | None:
    """A settings record written by :func:`write_settings`; None when absent, RunFileError when unreadable."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RunFileError(f"cannot read {path} ({type(exc).__name__}: {exc})") from exc
    if not isinstance(record, dict):
        raise RunFileError(f"{path} is not a settings record (a JSON object)")
    return record


def write_settings(path: str | os.PathLike, record: Mapping[str, Any]) -> Path:
    """Write a settings record atomically, keys sorted, readable."""
    return atomic_write_text(path, json.dumps(dict(record), indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def changed_settings(recorded: Mapping[str, Any], current: Mapping[str, Any],
                     keys: Iterable[str] | None = None, *, missing_counts: bool = False) -> list[str]:
    """Keys whose values differ, in order (``keys``: only those; else every key of either, sorted).

    ``missing_counts``: a key absent from one side differs; otherwise it is not compared (a later
    version may record more).
    """
    current = canonical(dict(current))
    recorded = canonical(dict(recorded))
    names = list(keys) if keys is not None else sorted(set(recorded) | set(current))
    changed = []
    for key in names:
        if key not in recorded or key not in current:
            if missing_counts and recorded.get(key) != current.get(key):
                changed.append(key)
            continue
        if recorded[key] != current[key]:
            changed.append(key)
    return changed


# --------------------------------------------------------------------------- lock


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """An exclusive lock on one output (a CSV, a folder), held for the life of a run.

    ``fcntl.flock`` on ``path``: the kernel drops it when the holder dies, so a lock file left by
    a killed run (a dead pid inside) is simply taken over. The holder's pid is written into the
    file so the refusal can name it. Used as a context manager or with :meth:`acquire`/:meth:`release`.
    """

    def __init__(self, path: str | os.PathLike, what: str | os.PathLike | None = None):
        self.path = Path(path)
        self.what = str(what if what is not None else self.path.parent)
        self._handle: Any = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> "RunLock":
        """Take the lock or raise :class:`RunLocked` naming the output and the holder's pid."""
        if self._handle is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open while the lock is held
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                handle.seek(0)
                holder = handle.read().strip()
                handle.close()
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                pid = holder if holder.isdigit() else "unknown"
                alive = "" if not holder.isdigit() or _pid_alive(int(holder)) else " (it seems to be exiting)"
                raise RunLocked(
                    f"{self.what} is in use by another run (pid {pid}{alive}; lock file {self.path}). "
                    f"Wait for it to finish or stop it, or choose another output."
                ) from None
            try:
                same = os.fstat(handle.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a file its previous holder unlinked while we opened it
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        """Drop the lock and remove the lock file (safe to call twice)."""
        if self._handle is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            self._handle.close()  # closing releases the flock
            self._handle = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc_info: Any) -> None:
        self.release()
