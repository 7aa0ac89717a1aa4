"""``python -m p2pstack.benchmarks.soak`` (what ``scripts/soak`` runs)."""

from __future__ import annotations

import sys

from p2pstack.benchmarks.soak.cli import main

sys.exit(main())
