"""Where GLOBE looks for data when nobody says: one rule for training, evaluation and the tools."""
from __future__ import annotations

import os
from pathlib import Path

CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def default_data_root(explicit: str | os.PathLike | None = None) -> Path:
    """``explicit``, else ``$GLOBE_DATA_ROOT``, else ``<checkout>/data``, else ``./data``.

    ``<checkout>/data`` applies only when GLOBE runs from a source checkout (``pip install -e .``,
    the documented install); after a plain ``pip install .`` the package lives in
    site-packages, where a ``data`` folder would be meaningless, so the working directory's
    ``data/`` is used instead.
    """
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("GLOBE_DATA_ROOT")
    if env:
        return Path(env).expanduser()
    if (CHECKOUT_ROOT / "setup.py").is_file():
        return CHECKOUT_ROOT / "data"
    return Path.cwd() / "data"
