"""GLOBE: teach vision-language models to geo-locate photos by reasoning.

Importing the package is cheap on purpose: no ms-swift, torch or network client is
imported here, so ``from globe.geo import resolve`` works in a notebook in seconds.
"""

__version__ = "0.1.0"
