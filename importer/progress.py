"""How far a big file's load has come: a log line every few seconds, the daemon's systemd STATUS,
and on a terminal a progress bar.

Small files say nothing until they end; a file passes ``logging.progress_rows`` before it is
reported, so a daemon working through many small files does not log twice per file.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Never

from loguru import logger
from tqdm import tqdm

from importer.notify import sd_notify
from importer.raw import RawTable

_ACTIVE: dict[str, str] = {}
"""the big files being loaded now, by label: how far each has come"""
_ACTIVE_LOCK = threading.Lock()


def in_progress() -> str | None:
    """The big files loading now, for the daemon's STATUS line."""
    with _ACTIVE_LOCK:
        return "; ".join(_ACTIVE.values()) or None


@dataclass
class FileProgress:
    label: str
    """``partner/file``"""
    raw: RawTable
    threshold_rows: int
    interval_s: float
    _started: float = field(default_factory=time.monotonic)
    _told: float = 0.0
    _bar: tqdm[Never] | None = None

    def update(self, rows: int) -> None:
        if rows < self.threshold_rows:
            return
        estimate = self._estimate(rows)
        if self._bar is None and sys.stderr.isatty():
            self._bar = tqdm(desc=self.label, unit=" rows", total=estimate, file=sys.stderr)
        if self._bar is not None:
            self._bar.total = estimate
            self._bar.update(rows - self._bar.n)
        now = time.monotonic()
        if now - self._told < self.interval_s:
            return
        self._told = now
        rate = rows / max(now - self._started, 1e-6)
        about = f" of about {estimate:,}" if estimate else ""
        logger.info("{}: {:,} rows read{} ({:,.0f} rows/s)", self.label, rows, about, rate)
        with _ACTIVE_LOCK:
            _ACTIVE[self.label] = f"loading {self.label}: {rows:,} rows{about}"
        sd_notify(f"STATUS={in_progress()}")

    def close(self) -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.pop(self.label, None)
        if self._bar is not None:
            self._bar.close()

    def _estimate(self, rows: int) -> int | None:
        """Rows in the whole file, from the records in the text read so far (CSV only)."""
        scan, size = self.raw.scan, self.raw.text_bytes
        if scan is None or not size or not scan.handed_bytes:
            return None
        return max(rows, round(scan.handed_rows * size / scan.handed_bytes))
