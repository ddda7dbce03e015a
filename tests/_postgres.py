"""The private PostgreSQL cluster of the tests: the kit's (``earnorm_aop.testing._postgres``).

``import _postgres`` (the Django setup, the PostgreSQL tests and their
subprocesses) gets that very module, so a test that replaces one of its
functions replaces it for the kit too.
"""

import sys

from earnorm_aop.testing import _postgres

sys.modules[__name__] = _postgres
