"""A compact set of row ids for duplicate detection over tens of millions of rows.

A Python ``set`` of id strings costs ~100 bytes per id (about 1 GB for MP16-Pro's 4.6M rows,
several GB for OSV-5M); here each id is an 8-byte BLAKE2b digest in one sorted numpy array
(8 bytes per id, 16 while merging). Two distinct ids collide with probability ~n^2/2^65, about
3e-6 for ten million ids: a collision would drop one row as a "duplicate", never write a duplicate.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np


def id_digest(image_id: str) -> int:
    """The 64-bit key of an id."""
    return int.from_bytes(hashlib.blake2b(image_id.encode("utf-8"), digest_size=8).digest(), "little")


def digests(ids: Iterable[str]) -> np.ndarray:
    return np.fromiter((id_digest(i) for i in ids), dtype=np.uint64)


class IdSet:
    """Sorted uint64 digests with vectorised membership and batched inserts."""

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return int(self._keys.size)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``keys`` are already in the set."""
        if self._keys.size == 0 or keys.size == 0:
            return np.zeros(keys.shape, dtype=bool)
        pos = np.searchsorted(self._keys, keys)
        pos[pos == self._keys.size] = 0
        return self._keys[pos] == keys

    def add(self, keys: np.ndarray) -> None:
        """Insert ``keys`` (duplicates among them or with the set are tolerated)."""
        if keys.size == 0:
            return
        new = np.unique(keys)
        new = new[~self.contains(new)]
        if new.size:
            merged = np.concatenate([self._keys, new])
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
            self._keys = merged

    def add_ids(self, ids: Sequence[str]) -> None:
        self.add(digests(ids))

    def __contains__(self, image_id: str) -> bool:
        return bool(self.contains(np.array([id_digest(image_id)], dtype=np.uint64))[0])
