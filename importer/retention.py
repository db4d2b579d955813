"""Delete files and reports in ``done/`` and ``failed/`` older than the retention; the ledger stays."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

from loguru import logger


def purge_old_days(root: Path, days: int, today: date) -> list[Path]:
    """Remove ``<outcome>/<partner>/<YYYY-MM-DD>/`` folders older than ``days``; returns them."""
    if days <= 0:
        return []
    cutoff = today - timedelta(days=days)
    removed = []
    for outcome in ("done", "failed"):
        for day_dir in sorted((root / outcome).glob("*/*")):
            try:
                day = date.fromisoformat(day_dir.name)
            except ValueError:
                continue
            if day_dir.is_dir() and not day_dir.is_symlink() and day < cutoff:
                shutil.rmtree(day_dir)
                removed.append(day_dir)
    if removed:
        logger.info("retention: removed {} day folder(s) older than {}", len(removed), cutoff)
    return removed
