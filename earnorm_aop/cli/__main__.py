"""``python -m earnorm_aop.cli ...``: kept working since ``cli`` became a package."""

import sys

from . import main

sys.exit(main())
