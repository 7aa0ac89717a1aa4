"""``python -m p2pstack.benchmarks``: see ``python -m p2pstack.benchmarks --help``."""

import sys

from p2pstack.benchmarks.cli import main

sys.exit(main())
