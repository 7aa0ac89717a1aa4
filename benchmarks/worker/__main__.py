"""``python -m p2pstack.benchmarks.worker ROLE JSON_PARAMS``: run one worker role."""

from __future__ import annotations

import json
import logging
import sys

from p2pstack.benchmarks.worker import ROLES
from p2pstack.benchmarks.worker.common import serve


def main(argv: list[str]) -> int:
    """Run the role named ``argv[0]`` with the JSON parameters ``argv[1]``."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if len(argv) != 2 or argv[0] not in ROLES:
        print(
            f"usage: python -m p2pstack.benchmarks.worker {{{','.join(ROLES)}}} JSON",
            file=sys.stderr,
        )
        return 2
    try:
        serve(ROLES[argv[0]], json.loads(argv[1]))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
