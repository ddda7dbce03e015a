"""``python -m earnorm_aop ...``: the same as the ``earnorm-aop`` command (see
[`cli`][earnorm_aop.cli])."""

import sys

from .cli import main

sys.exit(main())
