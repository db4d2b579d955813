"""Logging setup, called once by the entry point: readable lines on a terminal, JSON for journald.

A JSON line is one flat object: ``time`` (ISO-8601 with its zone), ``level``, ``message``, and the
fields the line was logged with (``partner``, ``feed``, ``job_id``, ``file``, the counts,
``duration_ms``), so ``journalctl -o cat | jq 'select(.partner=="acme")'`` finds a partner's files.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message

from importer.config import LoggingSettings

TERMINAL_FORMAT = "<green>{time:YYYY-MM-DD HH:mm:ssZZ}</green> <level>{level: <7}</level> {message}"


class _ToLoguru(logging.Handler):
    """Libraries log through ``logging`` (APScheduler, watchdog); their warnings join our stream."""

    def emit(self, record: logging.LogRecord) -> None:
        logger.opt(depth=6, exception=record.exc_info).log(record.levelname, record.getMessage())


def configure_logging(settings: LoggingSettings) -> None:
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.WARNING, force=True)
    logging.getLogger("watchdog").setLevel(logging.CRITICAL)
    logger.remove()
    if settings.json_lines:
        logger.add(_json_line, level=settings.level, format="{message}")
    else:
        logger.add(sys.stderr, level=settings.level, format=TERMINAL_FORMAT, colorize=None)


def _json_line(message: Message) -> None:
    record = message.record
    entry: dict[str, object] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
        **record["extra"],
    }
    if record["exception"] is not None:
        kind, value, trace = record["exception"]
        entry["exception"] = "".join(traceback.format_exception(kind, value, trace))
    sys.stderr.write(json.dumps(entry, default=str) + "\n")


def printable(text: str) -> str:
    """Partner-supplied text for a log line: control characters escaped, so no line can be forged."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
