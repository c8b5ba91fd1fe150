"""Logging set-up: one line per event, `key=value` fields after the event name, or JSON.

Messages are written as `event=name key=value key2='quoted value'` everywhere; the JSON
format parses those fields back into an object per line, for log shippers.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import sys
import time
from typing import Any

# key=value where value is a Python repr in quotes (from %r) or a run of non-spaces
_FIELD = re.compile(r"""(\w+)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S*)""")


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z"


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        line = f"{_timestamp(record)} level={record.levelname.lower()} logger={record.name} {msg}"
        if record.exc_info:
            exc = self.formatException(record.exc_info).replace("\n", "\\n")
            line += f" exc={exc!r}"
        return line


def _value(raw: str) -> Any:
    if raw[:1] in ("'", '"'):
        try:
            return ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return raw[1:-1]
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


def message_fields(msg: str) -> dict[str, Any]:
    """The `key=value` fields of a log message (values from %r are unquoted)."""
    return {m.group(1): _value(m.group(2)) for m in _FIELD.finditer(msg)}


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        out: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = message_fields(msg)
        for key, value in fields.items():
            out.setdefault(key, value)  # a field never overwrites ts/level/logger
        if not fields:
            out["msg"] = msg  # a message from a library, not in our key=value form
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(level: str = "info", fmt: str = "kv") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp and apscheduler chatter at info level is not ours to report
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
