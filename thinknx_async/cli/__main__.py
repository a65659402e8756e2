"""``python -m thinknx_async.cli``: the ``thinknx`` command."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
