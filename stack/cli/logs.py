"""Log lines on stderr for the CLI: ISO 8601 UTC times, text or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Final

LOG_FORMATS: Final = ("text", "json")


def iso_utc(timestamp: float) -> str:
    """A POSIX timestamp as ISO 8601 UTC with milliseconds: ``2026-12-03T11:36:03.123Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``<ISO time> <LEVEL> <logger> <message>`` (and the traceback, if any)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_utc(record.created)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` and, when the
    record carries one, ``exception`` (the formatted traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line)


def setup_logging(verbose: int, log_format: str) -> None:
    """Log to stderr (unless logging is already set up, as :func:`logging.basicConfig`):
    WARNING, INFO with ``-v``, DEBUG with ``-vv``; ``log_format`` text/json."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), handlers=[handler])
