"""``python -m kubecheck``: the same as the ``kubecheck`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
