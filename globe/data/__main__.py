"""``python -m globe.data`` = ``globe-data``."""
import sys

from .cli import main

sys.exit(main())
