"""``python -m engine.cli ...``: the ``shikra`` command."""

import sys

from engine.cli import main

sys.exit(main())
