"""``globe-plugin-path``: print where the installed ms-swift plugins are, for ``--external_plugins``.

ms-swift loads plugins by file path, and a pip-installed package's path is not something
users should have to find::

    swift rlhf --external_plugins $(globe-plugin-path) ...        # rewards and datasets
    swift sft  --external_plugins $(globe-plugin-path --dataset) ...

Prints absolute paths, space-separated, on one line. The reward plugin and the dataset plugin
stay separate modules so a run can load one without the other.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PLUGIN_FILES = {"plugin": PACKAGE_DIR / "plugin.py", "dataset": PACKAGE_DIR / "dataset.py"}


def plugin_paths(which: list[str] | None = None) -> list[Path]:
    """Absolute paths of the requested plugin files (default: rewards then datasets)."""
    return [PLUGIN_FILES[name] for name in (which or list(PLUGIN_FILES))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="globe-plugin-path",
        description="Print the absolute paths of GLOBE's ms-swift plugin files, for --external_plugins.",
    )
    parser.add_argument("--plugin", action="store_true", help="only the reward plugin (globe/plugin.py)")
    parser.add_argument("--dataset", action="store_true", help="only the dataset plugin (globe/dataset.py)")
    args = parser.parse_args(argv)
    which = [name for name in PLUGIN_FILES if getattr(args, name)]
    paths = plugin_paths(which)
    missing = [path for path in paths if not path.is_file()]
    if missing:
        print(f"globe-plugin-path: missing {', '.join(map(str, missing))}; reinstall globe-geo "
              "(pip install -e . in a checkout)", file=sys.stderr)
        return 1
    print(" ".join(str(path) for path in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
