"""``python -m bot`` is the same as the ``wirewatch`` command."""

import sys

from bot.cli import main

sys.exit(main())
