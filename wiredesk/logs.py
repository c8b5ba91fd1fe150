"""Logging set-up: one line per event, stable `key=value` fields after the event name."""

from __future__ import annotations

import logging
import sys


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        line = (
            f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}Z level={record.levelname.lower()}"
            f" logger={record.name} {msg}"
        )
        if record.exc_info:
            exc = self.formatException(record.exc_info).replace("\n", "\\n")
            line += f" exc={exc!r}"
        return line


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    fmt = _KeyValueFormatter()
    import time

    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp and apscheduler chatter at info level is not ours to report
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
