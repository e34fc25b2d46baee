"""``python -m bot`` is the same as the ``wirewatch`` command."""

import sys

from bot.cli.main import main

sys.exit(main())
