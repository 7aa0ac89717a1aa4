"""``python -m benchmarks.soak`` (what ``scripts/soak`` runs)."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
