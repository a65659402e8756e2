"""``python -m thinknx_async.simulator``: see :func:`thinknx_async.simulator.cli.main`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
