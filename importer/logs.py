"""Logging setup, called once by the entry point: readable lines on a terminal, JSON for journald."""

from __future__ import annotations

import sys

from loguru import logger

from importer.config import LoggingSettings

TERMINAL_FORMAT = "<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> {message}"


def configure_logging(settings: LoggingSettings) -> None:
    logger.remove()
    if settings.json_lines:
        logger.add(sys.stderr, level=settings.level, serialize=True)
    else:
        logger.add(sys.stderr, level=settings.level, format=TERMINAL_FORMAT, colorize=None)
