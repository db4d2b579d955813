"""Logging setup, called once by the entry point: readable lines on a terminal, JSON for journald."""

from __future__ import annotations

import logging
import sys

from loguru import logger

from importer.config import LoggingSettings

TERMINAL_FORMAT = "<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> {message}"


class _ToLoguru(logging.Handler):
    """Libraries log through ``logging`` (APScheduler, watchdog); their warnings join our stream."""

    def emit(self, record: logging.LogRecord) -> None:
        logger.opt(depth=6, exception=record.exc_info).log(record.levelname, record.getMessage())


def configure_logging(settings: LoggingSettings) -> None:
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.WARNING, force=True)
    logging.getLogger("watchdog").setLevel(logging.CRITICAL)
    logger.remove()
    if settings.json_lines:
        logger.add(sys.stderr, level=settings.level, serialize=True)
    else:
        logger.add(sys.stderr, level=settings.level, format=TERMINAL_FORMAT, colorize=None)


def printable(text: str) -> str:
    """Partner-supplied text for a log line: control characters escaped, so no line can be forged."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
