"""``python -m tamio.cli`` is the ``tamio`` command."""

import sys

from tamio.cli import main

sys.exit(main())
