"""``python -m memkit <command>``: see ``memkit.cli``."""

import sys

from memkit.cli import main

sys.exit(main())
