"""``importer run``: scan the inbox, process what is waiting, repeat until told to stop.

A transient fault (database down) leaves the file in ``incoming/`` and doubles the pause before
the next scan, up to ``max_backoff_s``; SIGTERM or SIGINT finish the file in hand, then exit 0.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from loguru import logger

from importer.config import Settings
from importer.exceptions import TransientError
from importer.pipeline import Pipeline


class Daemon:
    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.stopping = threading.Event()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info(
            "{} received: finishing the file in hand, then stopping", signal.Signals(signum).name
        )
        self.stopping.set()

    def run(self) -> None:
        interval = self.settings.daemon.poll_interval_s
        pause = interval
        logger.info("watching {} (scan every {} s)", self.pipeline.inbox.incoming, interval)
        while not self.stopping.is_set():
            try:
                self.scan_once()
                pause = interval
            except TransientError as exc:
                pause = min(pause * 2, self.settings.daemon.max_backoff_s)
                logger.warning("{}; files stay in incoming/, next attempt in {:.0f} s", exc, pause)
            self.stopping.wait(pause)
        logger.info("stopped")

    def scan_once(self) -> None:
        for partner_id, path in self.pipeline.inbox.waiting():
            if self.stopping.is_set():
                return
            self.pipeline.process(path, partner_id)
