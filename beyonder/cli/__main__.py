"""``python -m beyonder.cli``: the ``beyonder`` command."""

import sys

from beyonder.cli import main

sys.exit(main())
