"""An image id from a ground-truth file -> the image file, never outside the image root.

The one resolver of every tool that reads images by id (``globe-eval``, ``globe-data
convert``/``validate``, and so ``globe-distill``, which converts its ground truth first). A
ground-truth CSV may come from anywhere, and its images are sent to remote servers, so an id
must not name a file outside the image root:

- the id and **every file name derived from it** (a bare id gets ``.jpg``; MP16's ``7e_c3_1.jpg``
  is also tried as ``7e/c3/1.jpg`` and back, see :func:`globe.data.layouts.mp16_image_names`)
  are checked after the transformation, so ``.._.._secret.jpg`` cannot become ``../../secret.jpg``;
- absolute ids (``/etc/passwd``, ``C:\\x``) and ``..`` escapes are refused;
- a file that exists is followed through its symlinks, and its real path must stay inside the
  root's real path (a link ``images/x.jpg -> /etc/passwd`` is refused; a root that is itself a
  link is fine).

A refused id raises :class:`ImageOutsideRoot` (a ``PermissionError``), which the tools record
per row (``status="outside_image_root"``, or a ``outside_image_root`` drop).

Some distributions name a file by more than its id (IM2GPS's ``gps_query_imgs`` prefixes a place
and a number). A layout then gives a ``file_id`` rule (:attr:`globe.data.layouts.Layout.file_id`),
and an id none of whose names exists is looked up in a listing of the folder's own files, made
once per folder: what it finds lies in the folder by construction, and is still checked through
its links.
"""
from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from .layouts import mp16_image_names

ImageNames = Callable[[str], list[str]]
FileId = Callable[[str], "str | None"]


class ImageOutsideRoot(PermissionError):
    """An image id that names, or leads to, a file outside the image root."""


def _escapes(name: str) -> bool:
    return (name.startswith("/") or (len(name) > 1 and name[1] == ":") or name in (".", "..")
            or name.startswith("../"))


def confined_names(image_id: str, names: ImageNames = mp16_image_names) -> list[str]:
    """The relative file names ``image_id`` may be stored under, most literal first, each checked
    to stay inside the root; raise :class:`ImageOutsideRoot` if the id or any of them leaves it."""
    reference = image_id.strip().replace("\\", "/")
    normalised = posixpath.normpath(reference) if reference else reference
    if not reference or _escapes(reference) or _escapes(normalised):
        raise ImageOutsideRoot(f"image id {image_id!r} is empty, absolute or leaves the image root; "
                               "ids must be paths relative to the image root")
    out: list[str] = []
    for name in names(normalised):
        candidate = posixpath.normpath(name.replace("\\", "/"))
        if _escapes(candidate):
            raise ImageOutsideRoot(f"image id {image_id!r} leaves the image root once read as {name!r}")
        out.append(candidate)
    return list(dict.fromkeys(out))


@lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    return os.path.realpath(root)


def check_inside_root(root: str | os.PathLike, path: str | os.PathLike) -> None:
    """Raise :class:`ImageOutsideRoot` unless ``path``, its symlinks followed, lies inside ``root``'s real path."""
    real, real_root = os.path.realpath(path), _real_root(os.path.abspath(root))
    if os.path.commonpath([real, real_root]) != real_root:
        raise ImageOutsideRoot(f"image {os.fspath(path)!r} is (or links to) {real}, outside the image root {root}")


def find_image_file(root: str, names: list[str]) -> str | None:
    """The first of ``names`` (from :func:`confined_names`) that is a file under ``root``, or None.

    Raises :class:`ImageOutsideRoot` when that file is a link (or lies below a linked folder)
    whose real path is outside the root's real path.
    """
    for name in names:
        path = os.path.join(root, name)
        if "/" not in name and _plain_file(path):
            return name  # not a link, directly in the root: its real path is the root's, plus its name
        if os.path.isfile(path):
            check_inside_root(root, path)
            return name
    return None


def _plain_file(path: str) -> bool:
    """Whether ``path`` itself is a regular file and not a symlink (one ``lstat``, no ``realpath``).

    For a name directly in the root that is all :func:`check_inside_root` would find out: with no
    link at the last step, the file's real path is the root's real path plus the name. Anything
    else (a link, a missing file) takes the full check.
    """
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


@lru_cache(maxsize=16)
def _folder_ids(root: str, file_id: FileId, stamp: float) -> dict[str, str]:
    """``id -> file name`` for the files directly in ``root`` that ``file_id`` reads an id from
    (``stamp``: the folder's mtime, so a changed folder is listed again)."""
    found: dict[str, str] = {}
    with os.scandir(root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            image_id = file_id(entry.name) if entry.is_file() else None
            if image_id:
                found.setdefault(image_id, entry.name)
    return found


def find_by_file_id(root: str, image_id: str, file_id: FileId) -> str | None:
    """The file in ``root`` whose name ``file_id`` reads as ``image_id`` (module docstring), or None."""
    try:
        stamp = os.stat(root).st_mtime
    except OSError:
        return None
    normalised = image_id.strip().replace("\\", "/")
    name = _folder_ids(os.path.abspath(root), file_id, stamp).get(normalised)
    if name is not None:
        check_inside_root(root, os.path.join(root, name))
    return name


def find_layout_image(root: str, image_id: str, names: ImageNames = mp16_image_names,
                      file_id: FileId | None = None) -> tuple[str | None, list[str]]:
    """``(file name under root or None, the names tried)`` for ``image_id``: its derived names
    first, then (with a ``file_id`` rule) the folder's listing. Raises :class:`ImageOutsideRoot`."""
    candidates = confined_names(image_id, names)
    found = find_image_file(root, candidates)
    if found is None and file_id is not None:
        found = find_by_file_id(root, image_id, file_id)
    return found, candidates


def resolve_image_path(image_root: str | os.PathLike, image_id: str, names: ImageNames = mp16_image_names,
                       file_id: FileId | None = None) -> Path:
    """The image file for ``image_id``, confined to ``image_root`` (see the module docstring).

    Returns the first existing candidate, else the most literal one (the caller reports it missing).
    """
    found, candidates = find_layout_image(str(image_root), image_id, names, file_id)
    return Path(image_root) / (found if found is not None else candidates[0])
