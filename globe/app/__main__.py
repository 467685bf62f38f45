import sys

from globe.app.cli import main

sys.exit(main())
