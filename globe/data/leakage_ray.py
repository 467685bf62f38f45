"""``globe-data leakage --ray``: the hashing stage of the leakage audit as a Ray Data job.

Hashing is the audit's only heavy stage (one JPEG decode per image: hours for MP16's 4.7M on
one machine); the search over 64-bit hashes takes seconds. So only the hashing moves to Ray:
the paths become a dataset, :func:`globe.data.leakage.hash_image` runs on them as a batch map
on every core of the cluster, and the hashes come back in the paths' order. Everything else
(the index file and its resumable parts, the search, the pairs CSV) is the local code's, so
the two paths write the same index and the same pairs. The workers read the images by the
paths the driver lists: on a cluster they must lie on storage every node mounts (NFS, a
mounted bucket), at the same path.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Sequence

import numpy as np

from globe.scale import connect, quiet_progress

from .leakage import Hasher, hash_image

#: Images per Ray Data batch: large enough that task overhead is small against ~2 ms decodes.
BATCH_SIZE = 256


def _hash_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One batch of ``{"index", "path"}`` rows -> their hashes (0 and ``ok`` False when unreadable)."""
    hashes = [hash_image(str(path)) for path in batch["path"]]
    return {
        "index": np.asarray(batch["index"], dtype=np.int64),
        "phash": np.array([h[0] if h else 0 for h in hashes], dtype=np.uint64),
        "dhash": np.array([h[1] if h else 0 for h in hashes], dtype=np.uint64),
        "ok": np.array([h is not None for h in hashes], dtype=bool),
    }


def hash_images_ray(paths: Sequence[str | os.PathLike], workers: int = 2, progress: bool = False,
                    desc: str = "hash", bar: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(phashes, dhashes, ok)`` for ``paths``, as :func:`globe.data.leakage.hash_images` returns them,
    computed by a Ray Data job on the connected cluster (``workers`` is unused: Ray sizes the job)."""
    import ray.data
    from tqdm import tqdm

    phashes = np.zeros(len(paths), dtype=np.uint64)
    dhashes = np.zeros(len(paths), dtype=np.uint64)
    ok = np.zeros(len(paths), dtype=bool)
    if not len(paths):
        return phashes, dhashes, ok
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=len(paths), desc=desc, unit="img", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    blocks = max(1, min(len(paths) // BATCH_SIZE, 4 * int(ray.cluster_resources().get("CPU", 1))))
    dataset = ray.data.from_items([{"index": i, "path": str(p)} for i, p in enumerate(paths)],
                                  override_num_blocks=blocks)
    hashed = dataset.map_batches(_hash_batch, batch_size=BATCH_SIZE, batch_format="numpy")
    for batch in hashed.iter_batches(batch_format="numpy", batch_size=None):
        index = batch["index"]
        phashes[index], dhashes[index], ok[index] = batch["phash"], batch["dhash"], batch["ok"]
        bar.update(len(index))
    if own_bar:
        bar.close()
    return phashes, dhashes, ok


def ray_hasher(address: str) -> Hasher:
    """Connect to ``address`` (see :func:`globe.scale.connect`) and return the Ray hasher for ``audit``."""
    connect(address, "globe-data leakage --ray")
    quiet_progress()
    return hash_images_ray
