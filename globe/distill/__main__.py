"""``python -m globe.distill``: the same as the ``globe-distill`` command."""
import sys

from .cli import main

sys.exit(main())
