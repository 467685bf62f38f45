"""The optional ``scale`` extra: Ray for the data jobs, img2dataset for downloads, imported lazily.

The local paths (``globe-distill``, ``globe-data leakage``) never import Ray; only ``--ray`` and
``globe-data download`` do, through :func:`require`, so a core install keeps working and a
missing extra is one clear error naming the install command instead of an ``ImportError``
deep inside a job.

``--ray [ADDRESS]`` is read by :func:`connect`: no value starts a Ray instance inside this
process (all local cores), ``auto`` joins the cluster this machine belongs to (what
``ray job submit`` and KubeRay's RayJob set up), and ``HOST:PORT`` or ``ray://HOST:10001``
joins that cluster.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
from types import ModuleType

#: The value ``--ray`` takes when given without an address: a Ray instance inside this process.
LOCAL = "local"
SCALE_INSTALL = "pip install 'globe-geo[scale]'"
#: img2dataset 1.47 declares pandas<3 although it only uses pandas to read JSON input lists, so
#: the extra carries its other requirements and img2dataset itself is installed without its pins.
IMG2DATASET_INSTALL = f"{SCALE_INSTALL} && pip install --no-deps 'img2dataset==1.47.0'"


class ScaleExtraMissing(ImportError):
    """A ``--ray`` job or a download was asked for without the ``scale`` extra installed."""


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` for ``what`` (e.g. "--ray"), or raise naming the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        install = IMG2DATASET_INSTALL if module.startswith("img2dataset") else SCALE_INSTALL
        raise ScaleExtraMissing(
            f"{what} needs {module.split('.')[0]!r}, which is not installed ({exc}); install it with: {install}"
        ) from None


def add_ray_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--ray [ADDRESS]`` with one help text for every command that offers it."""
    parser.add_argument(
        "--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
        help=f"run {what} as a Ray Data job: no ADDRESS starts a Ray instance in this process, 'auto' joins "
             "this machine's cluster (ray job submit, KubeRay), HOST:PORT or ray://HOST:10001 joins that one "
             f"(needs the scale extra: {SCALE_INSTALL})",
    )


def connect(address: str, what: str) -> ModuleType:
    """Join (or start) the Ray cluster ``address`` names; returns the ``ray`` module.

    Already connected (a job started by ``ray job submit`` that called this twice, a test): kept.
    Ray's own log lines stay off stderr so the command's summary remains readable.
    """
    ray = require("ray", what)
    require("ray.data", what)
    if ray.is_initialized():
        return ray
    kwargs: dict = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address == LOCAL:
        kwargs["include_dashboard"] = False
    try:
        ray.init(address=None if address == LOCAL else address, **kwargs)
    except ConnectionError as exc:
        raise ConnectionError(f"--ray {address}: no Ray cluster answers there ({exc}); start one with "
                              "`ray start --head`, or pass --ray alone for a Ray instance in this process") from None
    return ray


def quiet_progress() -> None:
    """No Ray Data progress bars (they would interleave with the command's own summary)."""
    from ray.data import DataContext

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = DataContext.get_current()
    context.enable_progress_bars = False
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
