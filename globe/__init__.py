"""GLOBE: teach vision-language models to geo-locate photos by reasoning.

Importing the package is cheap on purpose: no ms-swift, torch or network client is
imported here, so ``from globe.geo import resolve`` works in a notebook in seconds.
"""
from pathlib import Path

__version__ = "0.1.0"

#: The checkout this package runs from (launchers, ``data/sample``, ``examples``): the one place
#: that knows the layout of the repository around ``globe/``.
REPO_ROOT: Path = Path(__file__).resolve().parent.parent
